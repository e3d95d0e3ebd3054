"""Trace exports: JSON, JSON Lines and the Chrome Trace Event Format.

`json` and `jsonl` carry `ExecutionTrace.to_dict()` unchanged, so they read back with
`ExecutionTrace.from_dict`. `chrome` is the format chrome://tracing and ui.perfetto.dev
open: each trace becomes a process whose slices are the run's phases (load, instantiate,
process) nested in the whole run, with logs, fuel checkpoints and memory operations as
instants and fuel consumed as a counter. Traces are placed on one shared timeline by
their `started_at`, so several runs line up.

No rich here: exports go to files and pipes, never through markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal, TextIO

from wasmcli import __version__
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType, format_utc

ExportFormat = Literal["json", "jsonl", "chrome"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("json", "jsonl", "chrome")

_TID: Final = 1
_END_TYPES: Final = (TraceEventType.EXECUTION_COMPLETE, TraceEventType.EXECUTION_ERROR)
_ONE_US: Final = timedelta(microseconds=1)


def export_traces(traces: Iterable[ExecutionTrace], fmt: str) -> str:
    """The traces as text in one of EXPORT_FORMATS, ending with a newline (empty for jsonl)."""
    fmt = _check_format(fmt)
    items = list(traces)
    if fmt == "json":
        return json.dumps([t.to_dict() for t in items], indent=2, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return "".join(_jsonl_line(t) for t in items)
    return json.dumps(chrome_trace(items), ensure_ascii=False) + "\n"


def write_export(traces: Iterable[ExecutionTrace], fmt: str, stream: TextIO) -> int:
    """Write the export to a text stream; returns how many traces were written.

    JSON Lines is streamed one trace at a time; the other formats are single documents.
    """
    fmt = _check_format(fmt)
    if fmt == "jsonl":
        count = 0
        for trace in traces:
            stream.write(_jsonl_line(trace))
            count += 1
        return count
    items = list(traces)
    stream.write(export_traces(items, fmt))
    return len(items)


def chrome_trace(traces: Sequence[ExecutionTrace]) -> dict[str, Any]:
    """The Chrome Trace Event Format document for the traces (pid = position + 1)."""
    origin = min((t.started_at for t in traces), default=None)
    events: list[dict[str, Any]] = []
    for index, trace in enumerate(traces):
        assert origin is not None
        offset = _micros(trace.started_at, origin)
        events.extend(_chrome_events(trace, pid=index + 1, offset_us=offset))
    other: dict[str, Any] = {
        "exporter": f"wasmcli {__version__}",
        "trace_count": len(traces),
        "trace_ids": [t.trace_id for t in traces],
    }
    if origin is not None:
        other["timeline_origin"] = format_utc(origin)
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}


def _check_format(fmt: str) -> ExportFormat:
    for known in EXPORT_FORMATS:
        if fmt == known:
            return known
    raise ValueError(f"unknown export format {fmt!r}: use json, jsonl or chrome")


def _jsonl_line(trace: ExecutionTrace) -> str:
    return json.dumps(trace.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"


def _micros(moment: datetime, origin: datetime) -> int:
    return (moment - origin) // _ONE_US


def _label(trace: ExecutionTrace) -> str:
    binary = trace.binary_name or (trace.binary_id or "")[:8]
    if not binary:
        references = [
            e.metadata.get("reference")
            for e in trace.events
            if e.event_type is TraceEventType.LOAD_START
        ]
        found = next((r for r in references if isinstance(r, str) and r), None)
        binary = f"{found} (not loaded)" if found else "unknown binary"
    return f"{binary} · trace {trace.trace_id[:8]}"


def _first(
    events: Sequence[TraceEvent],
    start: int,
    match: tuple[TraceEventType, ...],
    function: str | None = None,
) -> int | None:
    """Index of the first event at or after `start` of one of the types (and function)."""
    for i in range(start, len(events)):
        event = events[i]
        if event.event_type in match and (
            function is None or event.metadata.get("function") == function
        ):
            return i
    return None


def _chrome_events(trace: ExecutionTrace, *, pid: int, offset_us: int) -> list[dict[str, Any]]:
    evs = trace.events
    out: list[dict[str, Any]] = [
        _meta("process_name", pid, {"name": _label(trace)}),
        _meta("process_sort_index", pid, {"sort_index": pid}),
        _meta("thread_name", pid, {"name": f"run ({trace.engine or 'no engine'})"}),
    ]

    def base(name: str, ph: str, ts: int, cat: str) -> dict[str, Any]:
        return {"name": name, "cat": cat, "ph": ph, "ts": offset_us + ts, "pid": pid, "tid": _TID}

    def complete(name: str, cat: str, begin: int, end: int, args: dict[str, Any]) -> None:
        event = base(name, "X", begin, cat)
        event["dur"] = max(end - begin, 0)
        event["args"] = args
        out.append(event)

    # Timestamps count from the trace's start, which is where the run slice begins; it
    # ends at the recorded duration (or the last event, should one be stamped later).
    end_index = max((i for i, e in enumerate(evs) if e.event_type in _END_TYPES), default=None)
    run_end = max([trace.duration_us, *(e.timestamp for e in evs)])
    fallback_end = evs[end_index].timestamp if end_index is not None else run_end

    complete(
        "run",
        "execution",
        0,
        run_end,
        {
            "trace_id": trace.trace_id,
            "binary": trace.binary_name or trace.binary_id,
            "success": trace.success,
            "error_kind": trace.error_kind,
            "return_code": trace.return_code,
            "return_code_name": trace.return_code_name,
            "fuel_limit": trace.fuel_limit,
            "fuel_consumed": trace.fuel_consumed,
        },
    )

    load = _first(evs, 0, (TraceEventType.LOAD_START,))
    if load is not None:
        done = _first(evs, load + 1, (TraceEventType.LOAD_COMPLETE, TraceEventType.LOAD_ERROR))
        complete(
            "load",
            "load",
            evs[load].timestamp,
            evs[done].timestamp if done is not None else fallback_end,
            {**evs[load].metadata, **(evs[done].metadata if done is not None else {})},
        )

    # Instantiation begins where the store is prepared (fuel limit set or host.log
    # registered, whichever comes first) and ends when the module is instantiated.
    prep = _first(evs, 0, (TraceEventType.FUEL_CHECKPOINT, TraceEventType.HOST_FUNCTION_CALL))
    if prep is not None and (end_index is None or prep < end_index):
        inst = _first(evs, prep + 1, (TraceEventType.FUNCTION_CALL,), "instantiate")
        complete(
            "instantiate",
            "function",
            evs[prep].timestamp,
            evs[inst].timestamp if inst is not None else fallback_end,
            dict(evs[inst].metadata) if inst is not None else {"completed": False},
        )

    call = _first(evs, 0, (TraceEventType.FUNCTION_CALL,), "process")
    if call is not None:
        returned = _first(evs, call + 1, _END_TYPES)
        complete(
            "process",
            "function",
            evs[call].timestamp,
            evs[returned].timestamp if returned is not None else fallback_end,
            {**evs[call].metadata, **(evs[returned].metadata if returned is not None else {})},
        )

    def instant(event: TraceEvent, name: str, args: dict[str, Any]) -> None:
        marker = base(name, "i", event.timestamp, event.event_type.category)
        marker["s"] = "t"
        marker["args"] = args
        out.append(marker)

    fuel_started = False
    for event in evs:
        kind, meta = event.event_type, event.metadata
        if kind.is_error:
            error_kind = meta.get("error_kind") or trace.error_kind or "error"
            message = meta.get("error") or event.message
            instant(
                event,
                f"{kind.value}: {error_kind}",
                {**meta, "error_kind": error_kind, "message": message},
            )
        elif kind is TraceEventType.PLUGIN_LOG:
            instant(event, "log", {"message": event.message, **meta})
        elif kind is TraceEventType.MEMORY_OP:
            instant(
                event,
                f"memory {meta.get('operation') or 'operation'}",
                {"message": event.message, **meta},
            )
        elif kind is TraceEventType.HOST_FUNCTION_CALL:
            instant(
                event,
                str(meta.get("function") or "host function"),
                {"message": event.message, **meta},
            )
        elif kind is TraceEventType.FUEL_CHECKPOINT:
            limit_only = "fuel_consumed" not in meta
            instant(
                event,
                "fuel limit set" if limit_only else "fuel checkpoint",
                {"message": event.message, **meta},
            )
            # The counter starts at 0 when the limit is set, then follows the checkpoints.
            consumed = 0 if limit_only and not fuel_started else meta.get("fuel_consumed")
            if isinstance(consumed, int) and not isinstance(consumed, bool):
                counter = base("fuel", "C", event.timestamp, "fuel")
                counter["args"] = {"consumed": consumed}
                out.append(counter)
                fuel_started = True
    if trace.fuel_consumed is not None and not any(
        e["ph"] == "C" and e["args"]["consumed"] == trace.fuel_consumed for e in out
    ):
        # Runs that stop inside `process` (out of fuel, trap) have no checkpoint after
        # the call; the trace still knows what was consumed by the end.
        counter = base("fuel", "C", fallback_end, "fuel")
        counter["args"] = {"consumed": trace.fuel_consumed}
        out.append(counter)
    return out


def _meta(name: str, pid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": _TID, "args": args}
