"""Registry commands: register, list, inspect, remove; and `codes`."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasmcli.cli.errors import guard
from wasmcli.cli.state import open_registry
from wasmcli.errors import ErrorKind, WasmcliError


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@guard
def register(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="The .wasm or .wat file to register.")
    ],
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            metavar="NAME",
            help="Name to run it by (default: the file name, made valid).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Move the name when another binary holds it.")
    ] = False,
    no_check: Annotated[
        bool, typer.Option("--no-check", help="Register even if the module fails the ABI check.")
    ] = False,
    json_: Annotated[
        bool, typer.Option("--json", help="Print the registered binary as JSON.")
    ] = False,
) -> None:
    """Register a plugin; prints its binary id."""
    from wasmcli.config import RunConfig
    from wasmcli.runtime.registration import register_module

    outcome = register_module(
        open_registry(),
        path,
        name=name,
        force=force,
        check_abi=not no_check,
        engine=RunConfig.from_env().engine,
    )
    record = outcome.record
    if json_:
        _print_json(
            {
                **record.to_dict(),
                "created": outcome.created,
                "name_added": outcome.name_added,
                "name_moved_from": outcome.name_moved_from,
            }
        )
    else:
        sys.stdout.write(record.id + "\n")
    from wasmcli.render.binaries import register_note
    from wasmcli.safe_text import fs_text

    register_note(outcome, file_stem=None if name else fs_text(path.stem))


@guard
def list_binaries(
    json_: Annotated[bool, typer.Option("--json", help="Print a JSON array.")] = False,
) -> None:
    """List registered plugins."""
    records = open_registry().list()
    if json_:
        _print_json([record.to_dict() for record in records])
        return
    from wasmcli.render.binaries import binaries_table
    from wasmcli.render.console import data_console, diag_console

    if not records:
        diag_console().print("No plugins registered yet: wasmcli register plugin.wasm")
        return
    data_console().print(binaries_table(records))


@guard
def inspect(
    binary: Annotated[
        str,
        typer.Argument(
            metavar="BINARY", help="A .wasm/.wat file, a registered name, an id or an id prefix."
        ),
    ],
    memory_limit_mb: Annotated[
        int | None,
        typer.Option(
            "--memory-limit-mb",
            metavar="MB",
            help="Check the initial memory against this cap [default 64].",
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show a plugin's exports, imports and memory, and check it against the ABI."""
    from wasmcli.config import RunConfig
    from wasmcli.runtime.inspect import inspect_binary

    config = RunConfig.from_env(memory_limit_mb=memory_limit_mb)
    resolved = open_registry().resolve(binary)
    report = inspect_binary(resolved, config.memory_limit_bytes)
    if json_:
        _print_json(report.to_dict())
    else:
        from wasmcli.render.binaries import inspect_view
        from wasmcli.render.console import data_console

        data_console().print(inspect_view(report))
    if report.problems:
        # One code for "fails the check", whatever the problem (README: exit 4); the
        # report says which problems, with their kinds.
        raise typer.Exit(ErrorKind.ABI.exit_code)


@guard
def remove(
    binary: Annotated[
        str, typer.Argument(metavar="BINARY", help="A registered name, an id or an id prefix.")
    ],
    all_names: Annotated[
        bool,
        typer.Option("--all-names", help="Remove the binary with all its names, given one name."),
    ] = False,
) -> None:
    """Remove a name; a binary goes with its last name, or by id (its traces are kept)."""
    from wasmcli.store.module_files import looks_like_path

    if looks_like_path(binary):
        raise WasmcliError(
            ErrorKind.USAGE, f"{binary} is a file path; remove takes a registered name or id"
        )
    outcome = open_registry().remove(binary, all_names=all_names)
    from wasmcli.render.binaries import remove_note

    remove_note(outcome)


@guard
def codes(
    json_: Annotated[bool, typer.Option("--json", help="Print both tables as JSON.")] = False,
) -> None:
    """Print the plugin return codes and wasmcli's exit codes."""
    from wasmcli.errors import EXIT_CODES, KIND_DESCRIPTIONS
    from wasmcli.return_codes import RETURN_CODES

    if json_:
        _print_json(
            {
                "return_codes": [
                    {"code": rc.code, "name": rc.name, "meaning": rc.meaning} for rc in RETURN_CODES
                ],
                "exit_codes": [{"exit": 0, "kind": None, "meaning": "plugin returned SUCCESS"}]
                + [
                    {"exit": code, "kind": kind.value, "meaning": KIND_DESCRIPTIONS[kind]}
                    for kind, code in EXIT_CODES.items()
                ],
            }
        )
        return
    from wasmcli.render.binaries import codes_tables
    from wasmcli.render.console import data_console

    for table in codes_tables():
        data_console().print(table)
