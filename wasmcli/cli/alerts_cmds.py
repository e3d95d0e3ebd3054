"""`wasmcli alerts check/list`: alert rules (TOML) evaluated over the stored traces.

These commands only read the traces (and remember, in the home's database, which firing
alerts `alerts check` has reported): none of them imports an engine.
"""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmcli.cli.errors import guard, print_warning, usage_error
from wasmcli.cli.state import open_registry

if TYPE_CHECKING:
    from wasmcli.insight.alerts.rules import RuleSet
    from wasmcli.store.registry import Registry

app = typer.Typer(
    help="Alert rules over the stored traces: check them (a CI gate) or list their state.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

RulesOpt = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        metavar="FILE",
        help="TOML file of [[alert]] rules [default: alerts.toml in the wasmcli home].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _rules(registry: "Registry", given: Path | None) -> "RuleSet | None":
    """The rules to evaluate; None when the home has no rules file and none was given."""
    from wasmcli.insight.alerts.rules import default_rules_path, load_rules

    path = given if given is not None else default_rules_path(registry.home)
    if given is None and not path.exists():
        return None
    return load_rules(path)


def _no_rules(registry: "Registry") -> str:
    from wasmcli.insight.alerts.rules import default_rules_path

    return (
        f"no alert rules: write [[alert]] tables in {default_rules_path(registry.home)}"
        " or give --rules FILE"
    )


@app.command("check")
@guard
def check(
    rules: RulesOpt = None,
    exec_: Annotated[
        str | None,
        typer.Option(
            "--exec",
            metavar="CMD",
            help="Run CMD (through the shell) once per firing episode, the alert's JSON on stdin.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Evaluate every rule: print the firing alerts; exit 1 when any fires, 0 when none."""
    registry = open_registry()
    rule_set = _rules(registry, rules)
    if rule_set is None:
        raise usage_error(_no_rules(registry))
    from wasmcli.insight.alerts.check import check_alerts

    statuses = check_alerts(registry, rule_set, notify=exec_ is not None)
    if json_:
        data = {
            "rules": str(rule_set.path),
            "firing": sum(status.firing for status in statuses),
            "alerts": [status.to_dict() for status in statuses],
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        from wasmcli.render.alerts import AlertsCheckView
        from wasmcli.render.console import data_console

        data_console().print(AlertsCheckView(statuses))
    if exec_ is not None:
        from wasmcli.insight.alerts.notify import run_exec

        sys.stdout.flush()
        for status in statuses:
            if status.new:
                problem = run_exec(exec_, status)
                if problem is not None:
                    print_warning(problem)
    raise typer.Exit(1 if any(status.firing for status in statuses) else 0)


@app.command("list")
@guard
def list_alerts(rules: RulesOpt = None, json_: JsonOpt = False) -> None:
    """Show the rules and their state (firing or not, and since when)."""
    registry = open_registry()
    rule_set = _rules(registry, rules)
    if rule_set is None:
        if json_:
            sys.stdout.write(json.dumps({"rules": None, "alerts": []}) + "\n")
            return
        sys.stderr.write(_no_rules(registry) + "\n")
        return
    from wasmcli.insight.alerts.check import list_alerts as evaluate

    statuses = evaluate(registry, rule_set)
    if json_:
        data = {"rules": str(rule_set.path), "alerts": [status.to_dict() for status in statuses]}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    from wasmcli.render.console import data_console, diag_console

    if not statuses:
        diag_console().print(f"No [[alert]] rules in {rule_set.path}.", markup=False)
        return
    from wasmcli.render.alerts import AlertsListView

    data_console().print(AlertsListView(statuses))
