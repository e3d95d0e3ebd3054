"""The `wasmcli` command: a Typer app whose commands live in the modules next to this one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wasmcli import __version__
from wasmcli.cli import binaries_cmds, run_cmd, traces_cmds
from wasmcli.cli.state import options

app = typer.Typer(
    name="wasmcli",
    help="Run WebAssembly plugins under fuel, time and memory limits, and see what they did.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click errors: "Error: No such option: --bogus" rather than a drawn box.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wasmcli {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            metavar="DIR",
            help="Data folder [env WASMCLI_HOME; default ~/.local/share/wasmcli].",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run WebAssembly plugins under fuel, time and memory limits, and see what they did."""
    options.home = home


app.command("run")(run_cmd.run)
app.command("register")(binaries_cmds.register)
app.command("list")(binaries_cmds.list_binaries)
app.command("inspect")(binaries_cmds.inspect)
app.command("remove")(binaries_cmds.remove)
app.command("codes")(binaries_cmds.codes)
app.add_typer(traces_cmds.app, name="traces")


def main() -> None:
    app()
