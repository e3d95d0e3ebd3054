"""`wasmcli doctor`: check the home (database, modules, traces, cache) and repair it."""

import json
import sys
from typing import Annotated

import typer

from wasmcli.cli.errors import guard, print_error
from wasmcli.errors import ErrorKind


@guard
def doctor(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what can be repaired.")] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the home: database integrity, stored modules, traces, compiled cache.

    Exits 0 when the home is healthy (or --fix repaired everything), 9 when not.
    """
    from wasmcli.cli.state import current
    from wasmcli.config import resolve_home
    from wasmcli.store.doctor import check_home

    # Not state.home_folder(): a home that is a file is one of the things doctor reports.
    report = check_home(resolve_home(current().home), fix=fix)
    from wasmcli.render.doctor import doctor_verdict

    if json_:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        from wasmcli.render.console import data_console
        from wasmcli.render.doctor import doctor_view

        data_console().print(doctor_view(report), soft_wrap=True)
    verdict = doctor_verdict(report)
    if verdict is not None:
        print_error(verdict)
        raise typer.Exit(ErrorKind.IO.exit_code)
