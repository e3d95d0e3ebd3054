"""Traces made to order for the insight tests (stats, diff, alerts, dashboard).

`make_trace` builds a trace with the event flow a real run records (docs/design.md
section 7), with the stage durations, outcome, fuel and output a test asks for;
`store` saves traces in a home the way `wasmcli run` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from wasmcli.store.db import open_database
from wasmcli.store.traces import TraceStore
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType


def binary_id_of(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test-binary/{name}"))


def make_trace(
    binary: str = "hello",
    *,
    success: bool = True,
    error_kind: str | None = None,
    error_message: str | None = None,
    return_code: int | None = 0,
    fuel: int | None = 40,
    output: Sequence[str] = ("Hello, world!",),
    started_at: datetime | None = None,
    load_us: int = 1_000,
    instantiate_us: int = 200,
    process_us: int = 300,
    engine: str = "wasmtime",
    output_cut: int = 0,
    trace_id: str | None = None,
    **fields: Any,
) -> ExecutionTrace:
    """A trace whose load, instantiate and process stages last exactly as given."""
    binary_id = binary_id_of(binary)
    events: list[TraceEvent] = []

    def add(at: int, kind: TraceEventType, message: str, **metadata: Any) -> None:
        events.append(TraceEvent(at, kind, binary_id, message, metadata))

    add(0, T.EXECUTION_START, "Starting execution", engine=engine)
    load_start = 10
    add(load_start, T.LOAD_START, f"Loading {binary}.wasm", reference=f"{binary}.wasm")
    resolve_end = load_start + load_us // 4
    add(
        resolve_end,
        T.LOAD_COMPLETE,
        "Binary read",
        step="resolve",
        duration_ms=(resolve_end - load_start) / 1000,
    )
    load_end = load_start + load_us
    add(
        load_end,
        T.LOAD_COMPLETE,
        "Module compiled",
        step="module",
        duration_ms=(load_end - resolve_end) / 1000,
    )
    add(load_end + 5, T.FUEL_CHECKPOINT, "Fuel limit set", fuel_limit=10**9)
    instantiated = load_end + instantiate_us
    add(instantiated, T.FUNCTION_CALL, "Module instantiated", function="instantiate")
    add(instantiated + 5, T.MEMORY_OP, "Input written", operation="write_input")
    called = instantiated + 10
    add(called, T.FUNCTION_CALL, "Calling process", function="process")
    end = called + process_us
    for number, line in enumerate(output, 1):
        add(called + number, T.PLUGIN_LOG, line, line=number, bytes=len(line.encode()))
    if output_cut:
        add(
            end - 2,
            T.PLUGIN_LOG,
            "more log lines left out of the trace",
            suppressed=1,
            suppressed_bytes=output_cut,
        )
    add(end - 1, T.FUEL_CHECKPOINT, "Fuel consumed", fuel_consumed=fuel)
    if success:
        add(end, T.EXECUTION_COMPLETE, "Execution complete", return_code=return_code)
    else:
        add(end, T.EXECUTION_ERROR, error_message or "failed", error_kind=error_kind)
    output_bytes = len("\n".join(output).encode()) + output_cut
    return ExecutionTrace(
        trace_id=trace_id or str(uuid.uuid4()),
        binary_id=binary_id,
        binary_name=binary,
        engine=engine,
        started_at=started_at or datetime.now(timezone.utc),
        duration_us=end + 20,
        success=success,
        error_kind=None if success else (error_kind or "trap"),
        error_message=None if success else (error_message or "failed"),
        return_code=return_code if success or error_kind == "plugin_error" else None,
        fuel_limit=10**9,
        fuel_consumed=fuel,
        events=tuple(events),
        output_bytes=output_bytes,
        output_lines=len(output),
        output_bytes_cut=output_cut,
        **fields,
    )


def failing(binary: str = "hello", kind: str = "trap", **options: Any) -> ExecutionTrace:
    options.setdefault("error_message", f"Plugin failed: {kind}")
    if kind == "plugin_error":
        options.setdefault("return_code", -5)
    return make_trace(binary, success=False, error_kind=kind, output=(), **options)


def store(home: Path, traces: Iterable[ExecutionTrace]) -> list[ExecutionTrace]:
    """Save traces in `home` (oldest first, as runs would), keeping all of them."""
    conn = open_database(home)
    saved = []
    try:
        traces_store = TraceStore(conn)
        for trace in traces:
            traces_store.save(trace, max_traces=10**9)
            saved.append(trace)
    finally:
        conn.close()
    return saved


def ago(**delta: float) -> datetime:
    """That long before now (now when called: a test that waits stays in its windows)."""
    return datetime.now(timezone.utc) - timedelta(**delta)
