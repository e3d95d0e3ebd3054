"""Traces in the Chrome Trace Event Format, which ui.perfetto.dev and chrome://tracing open.

Each trace becomes a process on one shared time axis (placed by its `started_at`), with
one thread, "run". Its slices nest: the whole run; inside it load (with a slice per load
step: resolve, engine import, engine start, module), instantiate and `process`. Logs,
memory operations, fuel checkpoints and errors are instant events, and fuel consumed is
a counter.

No rich here: exports go to files and pipes, never through markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from wasmcli import __version__
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType, format_utc

T = TraceEventType

_TID: Final = 1
_END_TYPES: Final = (T.EXECUTION_COMPLETE, T.EXECUTION_ERROR)
_ONE_US: Final = timedelta(microseconds=1)
_STEP_NAMES: Final = {
    "resolve": "resolve binary",
    "engine_import": "import engine",
    "engine_start": "start engine",
    "module": "load module",
}


def chrome_trace(traces: Sequence[ExecutionTrace]) -> dict[str, Any]:
    """The Chrome Trace Event Format document for the traces (pid = position + 1)."""
    origin = min((t.started_at for t in traces), default=None)
    events: list[dict[str, Any]] = []
    for index, trace in enumerate(traces):
        assert origin is not None
        process = _Process(pid=index + 1, offset_us=_micros(trace.started_at, origin))
        events.extend(process.events_of(trace))
    other: dict[str, Any] = {
        "exporter": f"wasmcli {__version__}",
        "trace_count": len(traces),
        "trace_ids": [t.trace_id for t in traces],
    }
    if origin is not None:
        other["timeline_origin"] = format_utc(origin)
    return {"traceEvents": events, "displayTimeUnit": "ms", "otherData": other}


def _micros(moment: datetime, origin: datetime) -> int:
    return (moment - origin) // _ONE_US


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


def _label(trace: ExecutionTrace) -> str:
    binary = trace.binary_name or (trace.binary_id or "")[:8]
    if not binary:
        references = [
            e.metadata.get("reference") for e in trace.events if e.event_type is T.LOAD_START
        ]
        found = next((r for r in references if isinstance(r, str) and r), None)
        binary = f"{found} (not loaded)" if found else "unknown binary"
    return f"{binary} · trace {trace.trace_id[:8]}"


class _Process:
    """The Chrome events of one trace, drawn as one process."""

    def __init__(self, pid: int, offset_us: int) -> None:
        self.pid = pid
        self.offset_us = offset_us
        self.out: list[dict[str, Any]] = []

    def events_of(self, trace: ExecutionTrace) -> list[dict[str, Any]]:
        evs = trace.events
        end_index = max((i for i, e in enumerate(evs) if e.event_type in _END_TYPES), default=None)
        # Timestamps count from the trace's start, where the run slice begins; it ends at
        # the recorded duration (or the last event, should one be stamped later).
        run_end = max([trace.duration_us, *(e.timestamp for e in evs)])
        # A phase that never ended (the run failed inside it) ends where the run did.
        cut_off = evs[end_index].timestamp if end_index is not None else run_end
        self._names(trace)
        self._run_slice(trace, run_end)
        self._load_slices(evs, cut_off)
        self._instantiate_slice(evs, end_index, cut_off)
        self._process_slice(evs, cut_off)
        self._instants(trace)
        self._closing_fuel(trace, cut_off)
        return self.out

    # -- building blocks ------------------------------------------------------------

    def _base(self, name: str, ph: str, ts: int, cat: str) -> dict[str, Any]:
        return {
            "name": name,
            "cat": cat,
            "ph": ph,
            "ts": self.offset_us + ts,
            "pid": self.pid,
            "tid": _TID,
        }

    def _complete(self, name: str, cat: str, begin: int, end: int, args: dict[str, Any]) -> None:
        event = self._base(name, "X", begin, cat)
        event["dur"] = max(end - begin, 0)
        event["args"] = args
        self.out.append(event)

    def _instant(self, event: TraceEvent, name: str, args: dict[str, Any]) -> None:
        marker = self._base(name, "i", event.timestamp, event.event_type.category)
        marker["s"] = "t"
        marker["args"] = args
        self.out.append(marker)

    def _counter(self, ts: int, consumed: int) -> None:
        counter = self._base("fuel", "C", ts, "fuel")
        counter["args"] = {"consumed": consumed}
        self.out.append(counter)

    def _meta(self, name: str, args: dict[str, Any]) -> None:
        self.out.append(
            {"name": name, "ph": "M", "ts": 0, "pid": self.pid, "tid": _TID, "args": args}
        )

    # -- the parts of a trace -------------------------------------------------------

    def _names(self, trace: ExecutionTrace) -> None:
        self._meta("process_name", {"name": _label(trace)})
        self._meta("process_sort_index", {"sort_index": self.pid})
        self._meta("thread_name", {"name": f"run ({trace.engine or 'no engine'})"})

    def _run_slice(self, trace: ExecutionTrace, run_end: int) -> None:
        args = {
            "trace_id": trace.trace_id,
            "binary": trace.binary_name or trace.binary_id,
            "success": trace.success,
            "error_kind": trace.error_kind,
            "return_code": trace.return_code,
            "return_code_name": trace.return_code_name,
            "fuel_limit": trace.fuel_limit,
            "fuel_consumed": trace.fuel_consumed,
        }
        self._complete("run", "execution", 0, run_end, args)

    def _load_slices(self, evs: Sequence[TraceEvent], cut_off: int) -> None:
        """Load, from LoadStart to the last load event, and one slice per load step
        (each LoadComplete with a `step` ends the step that began at the previous one)."""
        start = _first(evs, 0, (T.LOAD_START,))
        if start is None:
            return
        steps: list[TraceEvent] = []
        for event in evs[start + 1 :]:
            if event.event_type is T.LOAD_ERROR:
                steps.append(event)
                break
            if event.event_type is T.LOAD_COMPLETE:
                steps.append(event)
            elif event.event_type is not T.LOAD_START:
                break
        end = steps[-1].timestamp if steps else cut_off
        args: dict[str, Any] = dict(evs[start].metadata)
        for step in steps:
            args.update(
                {k: v for k, v in step.metadata.items() if k not in ("step", "duration_ms")}
            )
        self._complete("load", "load", evs[start].timestamp, end, args)
        begin = evs[start].timestamp
        for step in steps:
            name = step.metadata.get("step")
            if isinstance(name, str):
                self._complete(
                    _STEP_NAMES.get(name, name), "load", begin, step.timestamp, dict(step.metadata)
                )
            begin = step.timestamp

    def _instantiate_slice(
        self, evs: Sequence[TraceEvent], end_index: int | None, cut_off: int
    ) -> None:
        # Instantiation begins where the store is prepared (fuel limit set or host.log
        # registered, whichever comes first) and ends when the module is instantiated.
        prep = _first(evs, 0, (T.FUEL_CHECKPOINT, T.HOST_FUNCTION_CALL))
        if prep is None or (end_index is not None and prep >= end_index):
            return
        done = _first(evs, prep + 1, (T.FUNCTION_CALL,), "instantiate")
        self._complete(
            "instantiate",
            "function",
            evs[prep].timestamp,
            evs[done].timestamp if done is not None else cut_off,
            dict(evs[done].metadata) if done is not None else {"completed": False},
        )

    def _process_slice(self, evs: Sequence[TraceEvent], cut_off: int) -> None:
        call = _first(evs, 0, (T.FUNCTION_CALL,), "process")
        if call is None:
            return
        returned = _first(evs, call + 1, _END_TYPES)
        self._complete(
            "process",
            "function",
            evs[call].timestamp,
            evs[returned].timestamp if returned is not None else cut_off,
            {**evs[call].metadata, **(evs[returned].metadata if returned is not None else {})},
        )

    def _instants(self, trace: ExecutionTrace) -> None:
        fuel_started = False
        for event in trace.events:
            kind, meta = event.event_type, event.metadata
            if kind.is_error:
                error_kind = meta.get("error_kind") or trace.error_kind or "error"
                args = {
                    **meta,
                    "error_kind": error_kind,
                    "message": meta.get("error") or event.message,
                }
                self._instant(event, f"{kind.value}: {error_kind}", args)
            elif kind is T.PLUGIN_LOG:
                self._instant(event, "log", {"message": event.message, **meta})
            elif kind is T.MEMORY_OP:
                name = f"memory {meta.get('operation') or 'operation'}"
                self._instant(event, name, {"message": event.message, **meta})
            elif kind is T.HOST_FUNCTION_CALL:
                name = str(meta.get("function") or "host function")
                self._instant(event, name, {"message": event.message, **meta})
            elif kind is T.FUEL_CHECKPOINT:
                limit_only = "fuel_consumed" not in meta
                name = "fuel limit set" if limit_only else "fuel checkpoint"
                self._instant(event, name, {"message": event.message, **meta})
                # The counter starts at 0 when the limit is set, then follows checkpoints.
                consumed = 0 if limit_only and not fuel_started else meta.get("fuel_consumed")
                if isinstance(consumed, int) and not isinstance(consumed, bool):
                    self._counter(event.timestamp, consumed)
                    fuel_started = True

    def _closing_fuel(self, trace: ExecutionTrace, cut_off: int) -> None:
        # Runs that stop inside `process` (out of fuel, trap) have no checkpoint after
        # the call; the trace still knows what was consumed by the end.
        consumed = trace.fuel_consumed
        if consumed is not None and not any(
            e["ph"] == "C" and e["args"]["consumed"] == consumed for e in self.out
        ):
            self._counter(cut_off, consumed)


__all__ = ["chrome_trace"]
