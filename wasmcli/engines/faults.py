"""The failures every engine reports, built in one place so both engines word them alike.

An adapter only decides *which* of these happened (from its engine's trap codes or
exceptions); the kind, the message and the typed fields come from here. The ABI check
(runtime/abi.py) uses the same import rule and signature text.
"""

from __future__ import annotations

from collections.abc import Sequence

from wasmcli.errors import ErrorKind, WasmcliError

TRAPPED = "Plugin trapped: "
INSTANTIATE_FAILED = "Failed to instantiate module: "


def compile_error(detail: str) -> WasmcliError:
    """The load error of a module an engine cannot compile."""
    return WasmcliError(ErrorKind.LOAD, f"Failed to compile module: {detail}", stage="load")


def trapped(description: str, backtrace: Sequence[str] = ()) -> WasmcliError:
    """A wasm trap, `description` in wasmcli's words (engines.traps.describe_trap)."""
    return WasmcliError(
        ErrorKind.TRAP, TRAPPED + description, backtrace=backtrace, trap=description
    )


class CallDepthExceeded(WasmcliError):
    """The call-depth limit's trap (wasm/depth.py): kind `trap`, exit 8, like any trap,
    but a limit: it keeps its kind in a start function too (see `start_failed`)."""


def call_depth_exceeded(max_depth: int, backtrace: Sequence[str] = ()) -> WasmcliError:
    description = f"call depth limit {max_depth} exceeded"
    return CallDepthExceeded(
        ErrorKind.TRAP, TRAPPED + description, backtrace=backtrace, trap=description
    )


def missing_instrumentation(name: str) -> WasmcliError:
    """A compiled module without the code wasmcli adds: a stale or foreign artifact."""
    return WasmcliError(
        ErrorKind.INTERNAL, f"the compiled module lacks wasmcli's instrumentation ({name})"
    )


def host_fault(description: str) -> WasmcliError:
    """A plugin's misuse of host.log: a trap of the plugin's own making."""
    return WasmcliError(ErrorKind.TRAP, description, trap=description)


def out_of_fuel(fuel_limit: int, backtrace: Sequence[str] = ()) -> WasmcliError:
    return WasmcliError(
        ErrorKind.OUT_OF_FUEL,
        f"Out of fuel: the plugin used all {fuel_limit:,} units",
        backtrace=backtrace,
    )


def timed_out(backtrace: Sequence[str] = ()) -> WasmcliError:
    return WasmcliError(ErrorKind.TIMEOUT, "Execution timeout", backtrace=backtrace)


def instantiate_failed(detail: str, kind: ErrorKind = ErrorKind.ABI) -> WasmcliError:
    return WasmcliError(kind, INSTANTIATE_FAILED + detail)


def segment_out_of_bounds(*, table: bool) -> WasmcliError:
    """A data or element segment placed past the end of its memory or table: the module
    cannot be set up, before any of its code (a start function) has run."""
    return instantiate_failed(
        "an element segment does not fit in its table"
        if table
        else "a data segment does not fit in the plugin's memory"
    )


def start_failed(error: WasmcliError) -> WasmcliError:
    """A failure inside the start function, as the run reports it.

    A trap there (a host.log fault included) means the module could not be set up: the
    exit-code table's "start function failed", exit 4. Limits keep their own kinds (a
    timeout, fuel, the output cap, the call depth, a signal), as they do anywhere else.
    """
    if error.kind is not ErrorKind.TRAP or isinstance(error, CallDepthExceeded):
        return error
    return WasmcliError(
        ErrorKind.ABI,
        f"{INSTANTIATE_FAILED}the start function trapped: {error.trap or error.message}",
        backtrace=error.backtrace,
        trap=error.trap,
    )


def missing_memory() -> WasmcliError:
    return WasmcliError(ErrorKind.ABI, "the module does not export `memory`")


def missing_function(name: str) -> WasmcliError:
    return WasmcliError(ErrorKind.ABI, f"the module does not export a function `{name}`")


def log_without_memory() -> WasmcliError:
    return host_fault("host.log called but the plugin exports no memory")


def log_range(ptr: int, length: int, available: int) -> tuple[int, int]:
    """host.log's (ptr, len) as unsigned offsets, checked against the memory's size."""
    start, size = ptr & 0xFFFFFFFF, length & 0xFFFFFFFF
    if start + size > available:
        raise host_fault(
            f"host.log range {start}..{start + size} is outside the plugin's memory "
            f"({available} bytes)"
        )
    return start, size


def check_range(ptr: int, length: int, available: int) -> None:
    """A host read or write of the plugin's memory stays inside it."""
    if ptr < 0 or length < 0 or ptr + length > available:
        raise WasmcliError(
            ErrorKind.TRAP,
            f"memory range {ptr}..{ptr + length} is outside the plugin's memory "
            f"({available} bytes)",
        )


def format_mb(size_bytes: int) -> str:
    """128 MB, 4.06 MB: the unit the memory-limit messages use."""
    value = size_bytes / (1024 * 1024)
    return f"{value:g} MB" if value == int(value) else f"{value:.2f} MB"


def above_limit(initial_bytes: int, limit_bytes: int) -> WasmcliError:
    """A module whose memories and tables take more than the cap at start-up."""
    return WasmcliError(
        ErrorKind.MEMORY_LIMIT,
        f"Memory limit exceeded: {format_mb(initial_bytes)} > {format_mb(limit_bytes)}",
    )
