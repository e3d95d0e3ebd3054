"""`wasmcli daemon start|stop|status|restart`: the home's warm daemon (wasmcli/daemon/)."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasmcli.cli.errors import guard, usage_error
from wasmcli.cli.state import home_folder
from wasmcli.errors import ErrorKind, WasmcliError

app = typer.Typer(
    name="daemon",
    help="A warm wasmcli process that serves this home's commands: start, stop, status.",
    no_args_is_help=True,
    rich_markup_mode=None,
    add_completion=False,
)

IdleOption = Annotated[
    str,
    typer.Option(
        "--idle",
        metavar="DURATION",
        help="Exit after this long without a command: 30s, 10m, 2h; 1s to 7d [default 10m].",
    ),
]

MaxCommandsOption = Annotated[
    int,
    typer.Option(
        "--max-commands",
        metavar="N",
        help="Serve at most N commands at once; more run in-process, as without a "
        "daemon: 1 to 1024 [default 64].",
    ),
]


def _idle_seconds(text: str) -> float:
    from wasmcli.daemon.control import MAX_IDLE_S, MIN_IDLE_S
    from wasmcli.tracing.timespec import parse_duration

    try:
        seconds = parse_duration(text).total_seconds()
    except ValueError as exc:
        raise usage_error(f"--idle: {exc}") from None
    if not MIN_IDLE_S <= seconds <= MAX_IDLE_S:
        raise usage_error(f"--idle must be between 1s and 7d (got {text})")
    return seconds


def _note(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _max_commands(value: int) -> int:
    from wasmcli.daemon.control import MAX_COMMANDS

    if not 1 <= value <= MAX_COMMANDS:
        raise usage_error(f"--max-commands must be between 1 and {MAX_COMMANDS} (got {value})")
    return value


def _start(home: Path, idle_s: float, max_commands: int) -> None:
    from wasmcli.daemon import control
    from wasmcli.render.daemon import idle_span

    running = control.status(home)
    if running is None:
        started = control.start(home, idle_s, max_commands)
        if started.state == "failed":
            raise WasmcliError(ErrorKind.IO, f"the wasmcli daemon did not start: {started.message}")
        if started.state == "started":
            _note(
                f"Started the wasmcli daemon for {home} (pid {started.pid}); "
                f"it exits after {idle_span(idle_s)} without a command."
            )
            return
        running = control.status(home)  # another start got there first
        if running is None:
            raise WasmcliError(ErrorKind.IO, "the wasmcli daemon did not start: it exited")
    if not running.usable:
        raise WasmcliError(
            ErrorKind.IO,
            f"a wasmcli daemon of another wasmcli or Python runs for {home} "
            f"(pid {running.pid}; {running.difference}): `wasmcli daemon restart` replaces it",
        )
    _note(f"The wasmcli daemon for {home} is already running (pid {running.pid}).")


def _stop(home: Path) -> None:
    from wasmcli.daemon import control

    pid = control.stop(home)
    if pid is None:
        _note(f"No wasmcli daemon runs for {home}.")
    else:
        _note(f"Stopped the wasmcli daemon for {home} (pid {pid}).")


@app.command("start")
@guard
def start(idle: IdleOption = "10m", max_commands: MaxCommandsOption = 64) -> None:
    """Start the daemon for this home (it keeps wasmcli loaded; commands then start faster)."""
    _start(home_folder(), _idle_seconds(idle), _max_commands(max_commands))


@app.command("stop")
@guard
def stop() -> None:
    """Stop the daemon for this home (commands it is serving finish first)."""
    _stop(home_folder())


@app.command("restart")
@guard
def restart(idle: IdleOption = "10m", max_commands: MaxCommandsOption = 64) -> None:
    """Stop the daemon for this home, if one runs, and start a new one."""
    idle_s, limit = _idle_seconds(idle), _max_commands(max_commands)
    home = home_folder()
    _stop(home)
    _start(home, idle_s, limit)


@app.command("status")
@guard
def status(
    json_: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Whether a daemon serves this home: its pid, uptime, version, commands served.

    Exits 0 when one runs, 1 when none does.
    """
    from wasmcli.daemon import control

    home = home_folder()
    found = control.status(home)
    if json_:
        data = found.to_dict() if found else {"running": False, "home": str(home)}
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        from wasmcli.render.daemon import status_lines

        sys.stdout.write("".join(line + "\n" for line in status_lines(home, found)))
    if found is None:
        raise typer.Exit(1)
