"""The one place where failures become a line on stderr and an exit code.

`exit_code_for` decides, for whatever ended an invocation: a WasmcliError gives its
kind's code; a usage error from parsing gives 2; Ctrl-C gives 130, SIGTERM and SIGHUP
128 + the signal; a reader that closed the pipe gives 0, quietly (`wasmcli codes |
head -1` under `set -o pipefail`); output that found no room (`> /dev/full`, a full
disk) gives 9, as for `run`; anything else is a bug in wasmcli: exit 10 with one line,
the traceback only under WASMCLI_DEBUG=1.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar

import typer
from typer._click.exceptions import Abort, ClickException, NoArgsIsHelpError, UsageError
from typer._click.utils import PacifyFlushWrapper

from wasmcli.errors import ErrorKind, Terminated, WasmcliError, internal_error, signal_name

F = TypeVar("F", bound=Callable[..., Any])


def debug_enabled() -> bool:
    return os.environ.get("WASMCLI_DEBUG", "").strip() not in ("", "0")


def print_error(message: str) -> None:
    # Plain write, not rich: messages hold user text (paths, plugin output) that must not
    # be read as markup, and one line must stay one line (control characters, from a
    # module's import names say, are shown escaped).
    from wasmcli.safe_text import one_line

    try:
        sys.stderr.write(f"error: {one_line(message)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr closed: the exit code still says what happened


def print_warning(message: str) -> None:
    try:
        sys.stderr.write(f"warning: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


def usage_error(message: str) -> WasmcliError:
    return WasmcliError(ErrorKind.USAGE, message)


def exit_code_for(exc: BaseException) -> int:
    """Report what ended an invocation (at most one line on stderr); its exit code."""
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, SystemExit):
        if isinstance(sys.stdout, PacifyFlushWrapper):
            # typer's own answer to a closed pipe (while printing help): exit 1. Ours is 0.
            silence_stdout()
            return 0
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, WasmcliError):
        print_error(exc.message)
        return exc.exit_code
    if isinstance(exc, NoArgsIsHelpError):  # bare `wasmcli`: the help, on stderr
        exc.show()
        return exc.exit_code
    if isinstance(exc, UsageError):
        print_error(usage_message(exc))
        return ErrorKind.USAGE.exit_code
    if isinstance(exc, ClickException):
        print_error(exc.format_message())
        return exc.exit_code
    if isinstance(exc, (KeyboardInterrupt, Abort)):  # Abort: Ctrl-C or Ctrl-D at a prompt
        print_error("interrupted")
        return ErrorKind.INTERRUPTED.exit_code
    if isinstance(exc, Terminated):  # SIGTERM or SIGHUP (see run_cmd.stop_on_signals)
        print_error(f"terminated by {signal_name(exc.signum)}")
        return 128 + exc.signum
    if is_closed_pipe(exc):
        # The reader left (`| head`): not a failure of ours, and nothing left to say.
        silence_stdout()
        return 0
    if is_lost_output(exc):
        silence_stdout()
        print_error(f"The output could not be written: {exc.strerror}")
        return ErrorKind.IO.exit_code
    # A bug in wasmcli: one line that asks for a report; the traceback on request.
    if debug_enabled():
        traceback.print_exception(type(exc), exc, exc.__traceback__)
    print_error(internal_error(exc).message)
    return ErrorKind.INTERNAL.exit_code


def usage_message(exc: UsageError) -> str:
    """Click's message, as one line, with where to read more."""
    text = " ".join(exc.format_message().split()).rstrip(".")
    if text[1:2].islower():  # "No such option" -> "no such option", like wasmcli's own
        text = text[0].lower() + text[1:]
    if exc.ctx is not None:
        text += f" (see '{exc.ctx.command_path} --help')"
    return text


def is_closed_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


# A write that found no room or a failing device. wasmcli's own files in the home are
# reported with their names (`store.db.home_error`): one without a file name is the
# output's, written as the command went (rich, click) or flushed at its end.
_NO_ROOM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def is_lost_output(exc: BaseException) -> TypeGuard[OSError]:
    return isinstance(exc, OSError) and exc.errno in _NO_ROOM_ERRNOS and exc.filename is None


def flush_stdout() -> None:
    """Flush now, so a closed pipe is seen here rather than by Python at exit."""
    if sys.stdout is not None:
        sys.stdout.flush()


def silence_stdout() -> None:
    """Point stdout at /dev/null, so Python's own flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def guard(command: F) -> F:
    """Turn a command's failure into its line and exit code inside the command.

    The root group does the same for everything (`group.WasmcliGroup.main`); a guarded
    command reports before its context closes.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except (Exception, KeyboardInterrupt, Terminated) as exc:  # noqa: BLE001
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper  # type: ignore[return-value]
