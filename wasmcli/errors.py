"""wasmcli's error kinds and the one exception that carries them.

Every failure a user can see is a `WasmcliError` with an `ErrorKind`. The kind decides
the process exit code (docs/design.md section 3) and is stored in the trace as `error_kind`.
Engine adapters translate engine exceptions into these kinds, so nothing above them
knows which engine ran.
"""

from __future__ import annotations

import enum
import signal as _signal
from collections.abc import Sequence
from typing import Any


class ErrorKind(str, enum.Enum):
    """What went wrong, in the words the exit-code table uses."""

    PLUGIN_ERROR = "plugin_error"
    USAGE = "usage"
    LOAD = "load"
    ABI = "abi"
    TIMEOUT = "timeout"
    OUT_OF_FUEL = "out_of_fuel"
    MEMORY_LIMIT = "memory_limit"
    TRAP = "trap"
    IO = "io"
    INTERNAL = "internal"
    INTERRUPTED = "interrupted"
    TERMINATED = "terminated"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


# The exit-code table of docs/design.md section 3 (its table and README's are checked
# against this).
EXIT_CODES: dict[ErrorKind, int] = {
    ErrorKind.PLUGIN_ERROR: 1,
    ErrorKind.USAGE: 2,
    ErrorKind.LOAD: 3,
    ErrorKind.ABI: 4,
    ErrorKind.TIMEOUT: 5,
    ErrorKind.OUT_OF_FUEL: 6,
    ErrorKind.MEMORY_LIMIT: 7,
    ErrorKind.TRAP: 8,
    ErrorKind.IO: 9,
    ErrorKind.INTERNAL: 10,
    # Ctrl-C: the shell convention 128 + SIGINT, so scripts see an interrupt as one.
    ErrorKind.INTERRUPTED: 130,
    # SIGTERM (143) or SIGHUP (129): 128 + the signal; 143 is the table's entry.
    ErrorKind.TERMINATED: 143,
}

EXIT_SUCCESS = 0

KIND_DESCRIPTIONS: dict[ErrorKind, str] = {
    ErrorKind.PLUGIN_ERROR: "plugin returned a non-zero code",
    ErrorKind.USAGE: "bad option, unknown command, contradictory flags, ambiguous id prefix",
    ErrorKind.LOAD: "binary not found, file unreadable, not WebAssembly, compile error",
    ErrorKind.ABI: "missing memory or process, wrong signature, unknown import, start failed",
    ErrorKind.TIMEOUT: "wall-clock limit reached",
    ErrorKind.OUT_OF_FUEL: "fuel limit reached",
    ErrorKind.MEMORY_LIMIT: "declared or requested memory above the limit",
    ErrorKind.TRAP: "unreachable/panic, out-of-bounds access, divide by zero, stack overflow",
    ErrorKind.IO: (
        "invalid UTF-8 in input or output, output above the cap or not written, unusable home"
    ),
    ErrorKind.INTERNAL: "a bug in wasmcli",
    ErrorKind.INTERRUPTED: "interrupted by the user (Ctrl-C)",
    ErrorKind.TERMINATED: "stopped by SIGTERM (exit 143) or SIGHUP (exit 129)",
}


class WasmcliError(Exception):
    """A failure with a kind, a one-line message and typed facts about where it happened.

    Like wasmtime's `Trap.trap_code`, the fields say what happened without anyone having
    to read the message: `trap` is the trap's description for kind TRAP (the start-up
    wrapping and the memory hint build on it), `stage` the step of the run that failed,
    `fuel_consumed`/`memory_pages` the plugin's state when it stopped, `signal` the
    signal that ended a `terminated` run, `cause` the exception behind an internal error.
    `profile` is the fuel profile up to a failure that left no instance to ask for it (a
    profiled run whose start function failed). Layers fill what they know with `at()`;
    the first value set wins.
    """

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        backtrace: Sequence[str] = (),
        trap: str | None = None,
        stage: str | None = None,
        fuel_consumed: int | None = None,
        memory_pages: int | None = None,
        signal: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.backtrace = list(backtrace)
        self.trap = trap
        self.stage = stage
        self.fuel_consumed = fuel_consumed
        self.memory_pages = memory_pages
        self.signal = signal
        self.cause = cause
        self.profile: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        if self.kind is ErrorKind.TERMINATED and self.signal is not None:
            return 128 + self.signal  # the shell convention, as for Ctrl-C
        return self.kind.exit_code

    def at(
        self,
        *,
        stage: str | None = None,
        fuel_consumed: int | None = None,
        memory_pages: int | None = None,
    ) -> WasmcliError:
        """Add what an outer layer knows; a fact set closer to the failure is kept."""
        if self.stage is None:
            self.stage = stage
        if self.fuel_consumed is None:
            self.fuel_consumed = fuel_consumed
        if self.memory_pages is None:
            self.memory_pages = memory_pages
        return self

    def set_message(self, message: str) -> None:
        self.message = message
        self.args = (message,)

    def to_wire(self) -> dict[str, Any]:
        """Plain values only: how a child process hands the error to its parent."""
        return {
            "kind": self.kind.value,
            "message": self.message,
            "backtrace": list(self.backtrace),
            "trap": self.trap,
            "stage": self.stage,
            "fuel_consumed": self.fuel_consumed,
            "memory_pages": self.memory_pages,
            "signal": self.signal,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> WasmcliError:
        fields = {key: value for key, value in data.items() if key not in ("kind", "message")}
        return cls(ErrorKind(data["kind"]), data["message"], **fields)

    def __repr__(self) -> str:
        return f"WasmcliError({self.kind.value!r}, {self.message!r})"


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: raised like KeyboardInterrupt, so the run stops, its
    trace is stored, and the process exits 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def raise_terminated(signum: int, frame: object) -> None:
    """The handler `wasmcli run` installs for SIGTERM and SIGHUP."""
    raise Terminated(signum)


def signal_name(signum: int) -> str:
    try:
        return _signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def stopped_by_signal(signum: int) -> WasmcliError:
    """The error of a run stopped by a signal: Ctrl-C is `interrupted`, the rest
    `terminated`."""
    if signum == _signal.SIGINT:
        return WasmcliError(ErrorKind.INTERRUPTED, "Interrupted")
    return WasmcliError(ErrorKind.TERMINATED, f"Terminated by {signal_name(signum)}", signal=signum)


def internal_error(exc: BaseException) -> WasmcliError:
    """Wrap an unexpected exception so the user gets one line that asks for a report."""
    return WasmcliError(
        ErrorKind.INTERNAL,
        f"Internal error: {type(exc).__name__}: {exc} "
        "(this is a bug in wasmcli; please report it with the trace id)",
        cause=exc,
    )
