"""How long each stage of a run took, read from its events (docs/trace-events.md).

- load: from LoadStart to the last LoadComplete (or the LoadError); its steps (resolve,
  engine_import, engine_start, module) each carry their own `duration_ms`;
- instantiate: from the end of loading to the FunctionCall `instantiate` (the start
  function ran in it);
- process: from the FunctionCall `process` to the end of the run (ExecutionComplete or
  ExecutionError);
- plugin: from the end of loading to the end of the run: the plugin's own time, what the
  wall-clock limit covers (instantiation, placing the input, `process`).

A stage the run never reached is None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

LOAD_STEPS = ("resolve", "engine_import", "engine_start", "module")
STAGES = ("load", "instantiate", "process", "plugin", "total")


@dataclass(frozen=True)
class StageDurations:
    """Microseconds per stage; None where the run did not get there."""

    load: int | None
    instantiate: int | None
    process: int | None
    plugin: int | None
    total: int
    load_steps: dict[str, int] = field(default_factory=dict)

    def get(self, stage: str) -> int | None:
        value: int | None = getattr(self, stage)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            **{f"{stage}_us": self.get(stage) for stage in STAGES},
            "load_steps_us": dict(self.load_steps),
        }


def stage_durations(trace: ExecutionTrace) -> StageDurations:
    events = trace.events
    end = _run_end(trace)
    load_start = _first(events, lambda e: e.event_type is T.LOAD_START)
    loaded = [e for e in events if e.event_type in (T.LOAD_COMPLETE, T.LOAD_ERROR)]
    load_end = loaded[-1].timestamp if loaded else None
    load = None
    if load_start is not None and load_end is not None:
        load = max(0, load_end - load_start.timestamp)
    instantiated = _call(events, "instantiate")
    called = _call(events, "process")
    module_ready = bool(loaded) and loaded[-1].event_type is T.LOAD_COMPLETE
    instantiate = None
    if module_ready and instantiated is not None and load_end is not None:
        instantiate = max(0, instantiated.timestamp - load_end)
    process = max(0, end - called.timestamp) if called is not None else None
    plugin = max(0, end - load_end) if module_ready and load_end is not None else None
    return StageDurations(
        load=load,
        instantiate=instantiate,
        process=process,
        plugin=plugin,
        total=trace.duration_us,
        load_steps=_load_steps(loaded),
    )


def _run_end(trace: ExecutionTrace) -> int:
    """When the run ended: its last ExecutionComplete/ExecutionError, else its duration."""
    for event in reversed(trace.events):
        if event.event_type in (T.EXECUTION_COMPLETE, T.EXECUTION_ERROR):
            return event.timestamp
    return trace.duration_us


def _load_steps(loaded: list[TraceEvent]) -> dict[str, int]:
    steps: dict[str, int] = {}
    for event in loaded:
        step = event.metadata.get("step")
        duration_ms = event.metadata.get("duration_ms")
        if isinstance(step, str) and isinstance(duration_ms, (int, float)):
            steps[step] = round(duration_ms * 1000)
    return steps


def _call(events: tuple[TraceEvent, ...], function: str) -> TraceEvent | None:
    return _first(
        events,
        lambda e: e.event_type is T.FUNCTION_CALL and e.metadata.get("function") == function,
    )


def _first(events: tuple[TraceEvent, ...], test: Any) -> TraceEvent | None:
    return next((event for event in events if test(event)), None)
