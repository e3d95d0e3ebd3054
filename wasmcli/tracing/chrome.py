"""Traces in the Chrome Trace Event Format, which ui.perfetto.dev and chrome://tracing open.

Each trace becomes a process on one shared time axis (placed by its `started_at`), with
one thread, "run". Its slices nest: the whole run; inside it load (with a slice per load
step: resolve, engine import, engine start, module), instantiate and `process`; inside
`process`, when the run was profiled, a slice per call stack (profile_slices.py: a layout
of the profile's aggregates, which Perfetto draws as a flame chart). Logs, memory
operations, fuel checkpoints and errors are instant events, and fuel consumed is a
counter.

No rich here: exports go to files and pipes, never through markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from wasmcli import __version__
from wasmcli.tracing.events import (
    PROFILE_MESSAGE,
    ExecutionTrace,
    TraceEvent,
    TraceEventType,
    format_utc,
)
from wasmcli.tracing.phases import RunPhases, run_phases
from wasmcli.tracing.profile_slices import profile_slices

T = TraceEventType

_TID: Final = 1
_ONE_US: Final = timedelta(microseconds=1)


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
        # Timestamps count from the trace's start, where the run slice begins (phases.py
        # has the rules for where each phase begins and ends).
        phases = run_phases(trace)
        self._names(trace)
        self._run_slice(trace, phases.run_end_us)
        self._phase_slices(phases)
        self._profile_slices(trace, phases)
        self._instants(trace)
        cut_off = phases.run_end_us
        if phases.end_event is not None:
            cut_off = trace.events[phases.end_event].timestamp
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

    def _phase_slices(self, phases: RunPhases) -> None:
        """Load (with a slice per load step inside it), instantiate and `process`."""
        for phase in phases.phases:
            cat = "load" if phase.name == "load" else "function"
            self._complete(phase.name, cat, phase.begin_us, phase.end_us, dict(phase.metadata))
            for step in phase.steps:
                self._complete(step.title, "load", step.begin_us, step.end_us, dict(step.metadata))

    def _profile_slices(self, trace: ExecutionTrace, phases: RunPhases) -> None:
        profile = trace.profile
        if profile is None or phases.process is None:
            return
        process = phases.process
        for found in profile_slices(profile, process.begin_us, process.end_us):
            self._complete(found.name, "profile", found.begin_us, found.end_us, found.args)

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
            elif kind is T.FUEL_CHECKPOINT and event.message == PROFILE_MESSAGE:
                # The profile itself is drawn as slices: here, what it sums to.
                profile = meta.get("profile") or {}
                args = {k: profile.get(k) for k in ("outcome", "fuel_attributed", "fuel_consumed")}
                self._instant(event, "fuel profile", args)
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
