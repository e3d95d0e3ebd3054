"""The `wasmcli` command: a Typer app whose commands live in the modules next to this one.

Start-up is part of the product (wasmcli runs in shell loops and CI steps), so:
- commands are built when an invocation uses them (`COMMANDS`, see group.py), and
  command modules import what a command needs inside the command: `--help`, `list` and
  `traces ...` never import an engine;
- modules that declare typer options do not use `from __future__ import annotations`:
  typer evaluates string annotations twice per invocation, which cost more than all of
  wasmcli's own imports;
- typer is pinned (pyproject.toml): its versions differ in start-up cost and wording.
"""

from pathlib import Path
from typing import Annotated

import typer

from wasmcli.cli.group import HOME_HELP, WasmcliGroup
from wasmcli.cli.state import Invocation

# In the order `wasmcli --help` lists them.
COMMANDS = {
    "run": "wasmcli.cli.run_cmd:run",
    "register": "wasmcli.cli.binaries_cmds:register",
    "list": "wasmcli.cli.binaries_cmds:list_binaries",
    "inspect": "wasmcli.cli.binaries_cmds:inspect",
    "remove": "wasmcli.cli.binaries_cmds:remove",
    "codes": "wasmcli.cli.binaries_cmds:codes",
    "doctor": "wasmcli.cli.doctor_cmd:doctor",
    "traces": "wasmcli.cli.traces_cmds:app",
    "alerts": "wasmcli.cli.alerts_cmds:app",
    "dashboard": "wasmcli.cli.dashboard_cmd:dashboard",
    "metrics": "wasmcli.cli.metrics_cmd:metrics",
    "daemon": "wasmcli.cli.daemon_cmds:app",
}


class RootGroup(WasmcliGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="wasmcli",
    cls=RootGroup,
    help="Run WebAssembly plugins under fuel, time and memory limits, and see what they did.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click errors: "error: no such option: --bogus" rather than a drawn box.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from wasmcli import __version__

        typer.echo(f"wasmcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option("--home", metavar="DIR", help=HOME_HELP)] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Say on stderr whether the daemon serves this command, or why not.",
        ),
    ] = False,
) -> None:
    """Run WebAssembly plugins under fuel, time and memory limits, and see what they did."""
    # This invocation's own options; a --home after the command name overrides it.
    ctx.obj = Invocation(home=home)


def main() -> None:
    app()
