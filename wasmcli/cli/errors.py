"""The one place where failures become a line on stderr and an exit code."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from wasmcli.errors import ErrorKind, Terminated, WasmcliError, internal_error, signal_name

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("WASMCLI_DEBUG", "").strip() not in ("", "0")


def print_error(message: str) -> None:
    # Plain write, not rich: messages hold user text (paths, plugin output) that must not
    # be read as markup, and one line must stay one line (control characters, from a
    # module's import names say, are shown escaped).
    from wasmcli.render.safe_text import one_line

    sys.stderr.write(f"error: {one_line(message)}\n")
    sys.stderr.flush()


def print_warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def exit_with(error: WasmcliError) -> typer.Exit:
    print_error(error.message)
    return typer.Exit(error.kind.exit_code)


def guard(command: F) -> F:
    """Run a command so that every failure is one line on stderr and its exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except WasmcliError as error:
            raise exit_with(error) from None
        except KeyboardInterrupt:
            print_error("interrupted")
            raise typer.Exit(ErrorKind.INTERRUPTED.exit_code) from None
        except Terminated as stop:  # SIGTERM or SIGHUP (see run_cmd.stop_on_signals)
            print_error(f"terminated by {signal_name(stop.signum)}")
            raise typer.Exit(128 + stop.signum) from None
        except BrokenPipeError:
            # `wasmcli traces export | head`: the reader left; that is not an error of ours.
            silence_stdout()
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug in wasmcli: one line, the traceback on request
            if debug_enabled():
                traceback.print_exc()
            raise exit_with(internal_error(exc)) from None

    return wrapper  # type: ignore[return-value]


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def usage_error(message: str) -> WasmcliError:
    return WasmcliError(ErrorKind.USAGE, message)
