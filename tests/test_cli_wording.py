"""What typer shows a user: every command's help, and usage errors as one `error:` line.

typer's versions differ here (0.27+ prints `{BINARY}`, 0.29 `BINARY <str>` and "Input
should be a valid integer"); the pinned version must keep the wording below.
"""

from __future__ import annotations

import re

import pytest

from wasmcli.cli.app import COMMANDS

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")


def every_command() -> list[list[str]]:
    from wasmcli.cli.daemon_cmds import app as daemon_app
    from wasmcli.cli.traces_cmds import app as traces_app

    commands = [[]] + [[name] for name in COMMANDS]
    commands += [["traces", info.name or ""] for info in traces_app.registered_commands]
    commands += [["daemon", info.name or ""] for info in daemon_app.registered_commands]
    return commands


@pytest.mark.parametrize("path", every_command(), ids=lambda path: " ".join(path) or "wasmcli")
def test_every_command_has_readable_help(any_engine_cli, path: list[str]) -> None:
    result = any_engine_cli(*path, "--help")
    assert result.exit_code == 0, result
    help_text = result.stdout
    usage = help_text.splitlines()[0]
    assert usage.startswith(f"Usage: {' '.join(['wasmcli', *path])} [OPTIONS]"), usage
    # Required arguments in plain capitals, metavars that say what to type, no type names.
    for leak in ("{", "<str>", "<int>", "INTEGER", "Input should be", "[default: None]"):
        assert leak not in help_text, (leak, help_text)
    assert "--home DIR" in help_text  # accepted before or after the command name
    options = re.findall(r"^\s+(-{1,2}\S+.*?)\s{2,}(\S.*)$", help_text, re.M)
    assert options, help_text
    for option, text in options:
        assert text.strip(), f"{option} has no help"


def test_required_arguments_read_as_names(any_engine_cli) -> None:
    usage = any_engine_cli("run", "--help").stdout.splitlines()[0]
    assert usage == "Usage: wasmcli run [OPTIONS] BINARY"
    assert "BINARY  A .wasm/.wat file" in any_engine_cli("run", "--help").stdout


def test_run_help_gives_every_range(any_engine_cli) -> None:
    help_text = " ".join(any_engine_cli("run", "--help").stdout.split())
    for fragment in (
        "1 to 86400000 (24 h)",
        "1 to 4096",
        "1 to 2^63-1",
        "at most 1G",
        "1 to 1000000",
    ):
        assert fragment in help_text


def test_root_help_lists_every_command_with_its_summary(any_engine_cli) -> None:
    listed = any_engine_cli("--help").stdout.split("Commands:", 1)[1]
    names = [line.split()[0] for line in listed.strip().splitlines()]
    assert names == list(COMMANDS)
    assert "--install-completion" in any_engine_cli("--help").stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["run", HELLO, "--fuel", "lots"],
            "error: invalid value for '--fuel': 'lots' is not a valid integer "
            "(see 'wasmcli run --help')",
        ),
        # (No option's name is close to it: click would append "Possible options: ...".)
        (["run", HELLO, "--wibble"], "error: no such option: --wibble (see 'wasmcli run --help')"),
        # The option as typed, to its last character (only a closing full stop is dropped).
        (
            ["run", HELLO, "--WIBBLEX"],
            "error: no such option: --WIBBLEX (see 'wasmcli run --help')",
        ),
        (["frobnicate"], "error: no such command 'frobnicate' (see 'wasmcli --help')"),
        (["run"], "error: missing argument 'BINARY' (see 'wasmcli run --help')"),
        (
            ["run", HELLO, "--timeout-ms"],
            "error: option '--timeout-ms' requires an argument (see 'wasmcli run --help')",
        ),
        (
            ["traces", "list", "--limit", "x"],
            "error: invalid value for '--limit' / '-n': 'x' is not a valid integer "
            "(see 'wasmcli traces list --help')",
        ),
        (
            ["traces", "nope"],
            "error: no such command 'nope' (see 'wasmcli traces --help')",
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_bad_options_give_one_error_line_and_exit_2(any_engine_cli, args, line) -> None:
    result = any_engine_cli(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == line + "\n"


def test_no_command_shows_the_help_on_stderr(any_engine_cli) -> None:
    result = any_engine_cli()
    assert result.exit_code == 2
    assert result.stdout == "" and result.stderr.startswith("Usage: wasmcli [OPTIONS] COMMAND")
