"""wasmcli's error kinds and the one exception that carries them.

Every failure a user can see is a `WasmcliError` with an `ErrorKind`. The kind decides
the process exit code (docs/design.md section 3) and is stored in the trace as `error_kind`.
Engine adapters translate engine exceptions into these kinds, so nothing above them
knows which engine ran.
"""

from __future__ import annotations

import enum


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
    ErrorKind.IO: "invalid UTF-8 in input or output, output above the cap",
    ErrorKind.INTERNAL: "a bug in wasmcli",
    ErrorKind.INTERRUPTED: "interrupted by the user (Ctrl-C)",
}


class WasmcliError(Exception):
    """A failure with a kind, a one-line message and, for traps, the wasm backtrace."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        backtrace: list[str] | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.backtrace = backtrace or []
        self.details = details or {}

    @property
    def exit_code(self) -> int:
        return self.kind.exit_code

    def __repr__(self) -> str:
        return f"WasmcliError({self.kind.value!r}, {self.message!r})"


def internal_error(exc: BaseException) -> WasmcliError:
    """Wrap an unexpected exception so the user gets one line that asks for a report."""
    return WasmcliError(
        ErrorKind.INTERNAL,
        f"Internal error: {type(exc).__name__}: {exc} "
        "(this is a bug in wasmcli; please report it with the trace id)",
    )
