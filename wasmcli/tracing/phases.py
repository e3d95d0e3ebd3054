"""The phases of a run, read from its events: load (and its steps), instantiate, process.

The exports that draw a run as nested spans (Chrome Trace Event slices, OpenTelemetry
spans) share these rules, so a run has the same shape in Perfetto and in a tracing
backend:

- the run lasts from 0 to its recorded duration (or its last event, should one be
  stamped later);
- load: from LoadStart to its last LoadComplete, or to the LoadError; each LoadComplete
  with a `step` ends the step that began at the previous one;
- instantiate: from where the store is prepared (the fuel limit set or host.log
  registered, whichever comes first) to the FunctionCall `instantiate`;
- process: from the FunctionCall `process` to ExecutionComplete or ExecutionError.

A phase that never ended (the run failed inside it) ends where the run did, and is
marked not completed. Every phase also names the events that belong to it (indices into
`trace.events`, first and last included), so an exporter can hang each event on the
innermost phase it happened in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

END_TYPES: Final = (T.EXECUTION_COMPLETE, T.EXECUTION_ERROR)
# What each load step is called where it is drawn as a span of its own.
STEP_TITLES: Final = {
    "resolve": "resolve binary",
    "engine_import": "import engine",
    "engine_start": "start engine",
    "module": "load module",
}


@dataclass(frozen=True)
class Phase:
    """One phase (or load step), in microseconds since the run started."""

    name: str  # "load", "instantiate", "process", or a load step ("resolve", "module", ...)
    begin_us: int
    end_us: int
    first_event: int  # index of its first event in trace.events
    last_event: int  # index of its last event (included)
    completed: bool  # False: the run failed or stopped inside it
    metadata: dict[str, Any] = field(default_factory=dict)
    steps: tuple[Phase, ...] = ()  # load's steps

    @property
    def title(self) -> str:
        """The name to draw it under: "load module" for the step `module`."""
        return STEP_TITLES.get(self.name, self.name)

    def holds(self, index: int) -> bool:
        return self.first_event <= index <= self.last_event


@dataclass(frozen=True)
class RunPhases:
    run_end_us: int  # where the whole run ends
    end_event: int | None  # index of ExecutionComplete/ExecutionError, if any
    load: Phase | None
    instantiate: Phase | None
    process: Phase | None

    @property
    def phases(self) -> tuple[Phase, ...]:
        return tuple(p for p in (self.load, self.instantiate, self.process) if p is not None)


def run_phases(trace: ExecutionTrace) -> RunPhases:
    evs = trace.events
    end_index = max((i for i, e in enumerate(evs) if e.event_type in END_TYPES), default=None)
    run_end = max([trace.duration_us, *(e.timestamp for e in evs)])
    cut_off = evs[end_index].timestamp if end_index is not None else run_end
    last = len(evs) - 1
    return RunPhases(
        run_end_us=run_end,
        end_event=end_index,
        load=_load(evs, cut_off, last),
        instantiate=_instantiate(evs, end_index, cut_off, last),
        process=_process(evs, cut_off, last),
    )


def first_event(
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


def _load(evs: Sequence[TraceEvent], cut_off: int, last: int) -> Phase | None:
    start = first_event(evs, 0, (T.LOAD_START,))
    if start is None:
        return None
    steps: list[int] = []
    failed = False
    for index in range(start + 1, len(evs)):
        event_type = evs[index].event_type
        if event_type is T.LOAD_ERROR:
            steps.append(index)
            failed = True
            break
        if event_type is T.LOAD_COMPLETE:
            steps.append(index)
        elif event_type is not T.LOAD_START:
            break
    begin = evs[start].timestamp
    metadata: dict[str, Any] = dict(evs[start].metadata)
    step_phases: list[Phase] = []
    step_begin, step_first = begin, start
    for index in steps:
        event = evs[index]
        metadata.update(
            {k: v for k, v in event.metadata.items() if k not in ("step", "duration_ms")}
        )
        name = event.metadata.get("step")
        if isinstance(name, str):
            step_phases.append(
                Phase(
                    name,
                    step_begin,
                    event.timestamp,
                    step_first,
                    index,
                    completed=event.event_type is not T.LOAD_ERROR,
                    metadata=dict(event.metadata),
                )
            )
        step_begin, step_first = event.timestamp, index + 1
    end = evs[steps[-1]].timestamp if steps else cut_off
    return Phase(
        "load",
        begin,
        end,
        start,
        steps[-1] if steps else last,
        completed=bool(steps) and not failed,
        metadata=metadata,
        steps=tuple(step_phases),
    )


def _instantiate(
    evs: Sequence[TraceEvent], end_index: int | None, cut_off: int, last: int
) -> Phase | None:
    prep = first_event(evs, 0, (T.FUEL_CHECKPOINT, T.HOST_FUNCTION_CALL))
    if prep is None or (end_index is not None and prep >= end_index):
        return None
    done = first_event(evs, prep + 1, (T.FUNCTION_CALL,), "instantiate")
    if done is not None:
        return Phase(
            "instantiate",
            evs[prep].timestamp,
            evs[done].timestamp,
            prep,
            done,
            completed=True,
            metadata=dict(evs[done].metadata),
        )
    return Phase(
        "instantiate",
        evs[prep].timestamp,
        cut_off,
        prep,
        end_index if end_index is not None else last,
        completed=False,
        metadata={"completed": False},
    )


def _process(evs: Sequence[TraceEvent], cut_off: int, last: int) -> Phase | None:
    call = first_event(evs, 0, (T.FUNCTION_CALL,), "process")
    if call is None:
        return None
    returned = first_event(evs, call + 1, END_TYPES)
    metadata = {**evs[call].metadata, **(evs[returned].metadata if returned is not None else {})}
    return Phase(
        "process",
        evs[call].timestamp,
        evs[returned].timestamp if returned is not None else cut_off,
        call,
        returned if returned is not None else last,
        completed=returned is not None and evs[returned].event_type is T.EXECUTION_COMPLETE,
        metadata=metadata,
    )


__all__ = ["END_TYPES", "STEP_TITLES", "Phase", "RunPhases", "first_event", "run_phases"]
