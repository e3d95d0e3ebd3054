"""What a run produced, as the library returns it and `run --json` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasmcli.errors import EXIT_SUCCESS, ErrorKind, WasmcliError
from wasmcli.return_codes import return_code_name
from wasmcli.tracing.events import ExecutionTrace


@dataclass(frozen=True)
class RunError:
    kind: ErrorKind
    message: str
    backtrace: tuple[str, ...] = ()
    stage: str | None = None
    # The process exit code: the kind's, or 128 + the signal for `terminated`.
    exit_code: int = field(default=0, compare=False)
    # What trapped, in wasmcli's words ("integer divide by zero", a host.log fault), for
    # a trap anywhere (a start function's included); None for any other failure.
    trap: str | None = None

    @classmethod
    def from_exception(cls, error: WasmcliError) -> RunError:
        return cls(
            error.kind,
            error.message,
            tuple(error.backtrace),
            error.stage,
            error.exit_code,
            error.trap,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "backtrace": list(self.backtrace),
            "stage": self.stage,
            "trap": self.trap,
        }


@dataclass(frozen=True)
class RunResult:
    output: str
    return_code: int | None
    fuel_limit: int
    fuel_consumed: int | None
    duration_ms: float
    binary_id: str | None
    binary_name: str | None
    engine: str | None
    trace_id: str | None
    error: RunError | None = None
    trace: ExecutionTrace | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()
    # The exception behind an internal error, for --debug; never part of the JSON.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return self.error is None

    @property
    def return_code_name(self) -> str | None:
        return return_code_name(self.return_code)

    @property
    def exit_code(self) -> int:
        if self.error is None:
            return EXIT_SUCCESS
        return self.error.exit_code or self.error.kind.exit_code

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "return_code": self.return_code,
            "return_code_name": self.return_code_name,
            "fuel_consumed": self.fuel_consumed,
            "fuel_limit": self.fuel_limit,
            "duration_ms": self.duration_ms,
            "trace_id": self.trace_id,
            "binary_id": self.binary_id,
            "binary_name": self.binary_name,
            "engine": self.engine,
            "success": self.success,
            "error": self.error.to_dict() if self.error else None,
        }
