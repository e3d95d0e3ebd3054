"""What changed between two runs: `wasmcli traces diff OLD NEW`.

Two runs are *equal* when their outcome (success, error kind, return code), their output
and their fuel are; durations always differ a little and are reported, not compared.
The output is the plugin's log lines (docs/design.md section 1), as the trace keeps
them: a trace keeps a bounded amount of output text, so when either trace was cut the
comparison covers the kept text and the total sizes, and says so (`compared_cut_text`).

CI gates (`Gate`) compare the fuel and the plugin's time (instantiate to the end: what
the wall-clock limit covers; loading depends on the compile cache and the engine's
import, not on the plugin) against a largest allowed increase in percent.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from wasmcli.insight.profile_fuel import function_fuel
from wasmcli.insight.stages import LOAD_STEPS, STAGES, stage_durations
from wasmcli.tracing.events import ExecutionTrace, TraceEventType

# Lines of each unified diff beyond which it is cut (the rest is counted).
MAX_DIFF_LINES = 400


@dataclass(frozen=True)
class Change:
    """A number in both runs; None where a run has no value (a stage it never reached,
    fuel an engine could not tell)."""

    old: int | None
    new: int | None

    @property
    def delta(self) -> int | None:
        return None if self.old is None or self.new is None else self.new - self.old

    @property
    def percent(self) -> float | None:
        """The change relative to the old value; None when it has no meaning (a missing
        value, or an old value of 0 with a new one that is not)."""
        if self.old is None or self.new is None:
            return None
        if self.old == 0:
            return 0.0 if self.new == 0 else None
        return 100 * (self.new - self.old) / self.old

    def to_dict(self) -> dict[str, Any]:
        percent = self.percent
        return {
            "old": self.old,
            "new": self.new,
            "delta": self.delta,
            "percent": None if percent is None else round(percent, 3),
        }


@dataclass(frozen=True)
class CapturedOutput:
    """A run's output as its trace keeps it."""

    lines: tuple[str, ...]
    total_bytes: int | None  # the whole output, when the trace records it
    cut: bool  # the trace left some of it out
    cut_bytes: int | None  # how many bytes, when the trace says

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": len(self.lines),
            "kept_bytes": len(self.text.encode("utf-8", "surrogateescape")),
            "total_bytes": self.total_bytes,
            "cut": self.cut,
            "cut_bytes": self.cut_bytes,
        }


def captured_output(trace: ExecutionTrace) -> CapturedOutput:
    """The PluginLog lines of a trace, and whether (and how much) output it left out."""
    lines: list[str] = []
    cut = False
    cut_bytes = 0
    total: int | None = trace.output_bytes
    for event in trace.events:
        metadata = event.metadata
        if event.event_type is TraceEventType.EXECUTION_COMPLETE and total is None:
            recorded = metadata.get("output_bytes")
            total = recorded if isinstance(recorded, int) else None
        if event.event_type is not TraceEventType.PLUGIN_LOG:
            continue
        if "suppressed" in metadata:  # the one event saying how many lines were left out
            cut = True
            cut_bytes += int(metadata.get("suppressed_bytes") or 0)
            continue
        lines.append(event.message)
        if metadata.get("cut_bytes"):
            cut = True
            cut_bytes += int(metadata["cut_bytes"])
    if trace.output_bytes_cut:
        cut = True
        cut_bytes = max(cut_bytes, trace.output_bytes_cut)
    return CapturedOutput(tuple(lines), total, cut, cut_bytes if cut_bytes or not cut else None)


@dataclass(frozen=True)
class TextDiff:
    """A unified diff, cut at MAX_DIFF_LINES lines (`more_lines` says how many more)."""

    lines: tuple[str, ...]
    more_lines: int = 0

    @property
    def empty(self) -> bool:
        return not self.lines

    def to_dict(self) -> dict[str, Any]:
        return {"unified": list(self.lines), "more_lines": self.more_lines}


def unified(old: list[str], new: list[str], old_label: str, new_label: str) -> TextDiff:
    found = list(difflib.unified_diff(old, new, old_label, new_label, lineterm=""))
    return TextDiff(tuple(found[:MAX_DIFF_LINES]), max(0, len(found) - MAX_DIFF_LINES))


@dataclass(frozen=True)
class OutputDiff:
    old: CapturedOutput
    new: CapturedOutput
    diff: TextDiff

    @property
    def compared_cut_text(self) -> bool:
        return self.old.cut or self.new.cut

    @property
    def equal(self) -> bool:
        if self.old.text != self.new.text:
            return False
        # Cut text can match while what was left out differs: the sizes must too.
        return not self.compared_cut_text or self.old.total_bytes == self.new.total_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "compared_cut_text": self.compared_cut_text,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            **self.diff.to_dict(),
        }


@dataclass(frozen=True)
class Outcome:
    success: bool
    error_kind: str | None
    return_code: int | None
    return_code_name: str | None
    error_message: str | None

    @classmethod
    def of(cls, trace: ExecutionTrace) -> Outcome:
        return cls(
            trace.success,
            trace.error_kind,
            trace.return_code,
            trace.return_code_name,
            trace.error_message,
        )

    def same_as(self, other: Outcome) -> bool:
        return (self.success, self.error_kind, self.return_code) == (
            other.success,
            other.error_kind,
            other.return_code,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "error_kind": self.error_kind,
            "return_code": self.return_code,
            "return_code_name": self.return_code_name,
            "error_message": self.error_message,
        }


@dataclass(frozen=True)
class FunctionFuel:
    name: str
    fuel: Change


@dataclass(frozen=True)
class TraceDiff:
    old: ExecutionTrace  # summaries; their events are in the fields below
    new: ExecutionTrace
    old_outcome: Outcome
    new_outcome: Outcome
    output: OutputDiff
    fuel: Change
    stages: dict[str, Change]
    load_steps: dict[str, Change]
    event_counts: dict[str, Change]
    events: TextDiff
    # Per-function self fuel, when both traces carry a profile (profile_fuel.py).
    functions: tuple[FunctionFuel, ...] | None = None
    differences: tuple[str, ...] = field(default=())

    @property
    def equal(self) -> bool:
        """Outcome, output and fuel are equal (durations are not compared)."""
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": _summary(self.old),
            "new": _summary(self.new),
            "equal": self.equal,
            "differences": list(self.differences),
            "outcome": {
                "equal": self.old_outcome.same_as(self.new_outcome),
                "old": self.old_outcome.to_dict(),
                "new": self.new_outcome.to_dict(),
            },
            "output": self.output.to_dict(),
            "fuel": self.fuel.to_dict(),
            "duration_us": {stage: change.to_dict() for stage, change in self.stages.items()},
            "load_steps_us": {step: change.to_dict() for step, change in self.load_steps.items()},
            "events_by_type": {
                name: change.to_dict() for name, change in self.event_counts.items()
            },
            "events": self.events.to_dict(),
            "functions": None
            if self.functions is None
            else [{"name": f.name, **f.fuel.to_dict()} for f in self.functions],
        }


def _summary(trace: ExecutionTrace) -> dict[str, Any]:
    data = trace.to_dict()
    data.pop("events", None)
    return data


def trace_diff(old: ExecutionTrace, new: ExecutionTrace) -> TraceDiff:
    """Compare two traces (with their events)."""
    old_label, new_label = f"old {old.trace_id[:8]}", f"new {new.trace_id[:8]}"
    old_output, new_output = captured_output(old), captured_output(new)
    output = OutputDiff(
        old_output,
        new_output,
        unified(list(old_output.lines), list(new_output.lines), old_label, new_label),
    )
    old_stages, new_stages = stage_durations(old), stage_durations(new)
    steps = [s for s in LOAD_STEPS if s in old_stages.load_steps or s in new_stages.load_steps]
    old_outcome, new_outcome = Outcome.of(old), Outcome.of(new)
    fuel = Change(old.fuel_consumed, new.fuel_consumed)
    differences = []
    if not old_outcome.same_as(new_outcome):
        differences.append("outcome")
    if not output.equal:
        differences.append("output")
    if fuel.old != fuel.new:
        differences.append("fuel")
    return TraceDiff(
        old=old,
        new=new,
        old_outcome=old_outcome,
        new_outcome=new_outcome,
        output=output,
        fuel=fuel,
        stages={s: Change(old_stages.get(s), new_stages.get(s)) for s in STAGES},
        load_steps={
            s: Change(old_stages.load_steps.get(s), new_stages.load_steps.get(s)) for s in steps
        },
        event_counts=_event_counts(old, new),
        events=unified(_event_lines(old), _event_lines(new), old_label, new_label),
        functions=_function_changes(old, new),
        differences=tuple(differences),
    )


def _event_counts(old: ExecutionTrace, new: ExecutionTrace) -> dict[str, Change]:
    before = Counter(e.event_type.value for e in old.events)
    after = Counter(e.event_type.value for e in new.events)
    return {
        kind.value: Change(before[kind.value], after[kind.value])
        for kind in TraceEventType
        if before[kind.value] or after[kind.value]
    }


def _event_lines(trace: ExecutionTrace) -> list[str]:
    """The run's events as lines, without times and without the log lines (they are the
    output, compared on their own)."""
    return [
        f"{event.event_type.value}: {event.message}"
        for event in trace.events
        if event.event_type is not TraceEventType.PLUGIN_LOG
    ]


def _function_changes(old: ExecutionTrace, new: ExecutionTrace) -> tuple[FunctionFuel, ...] | None:
    before, after = function_fuel(old), function_fuel(new)
    if before is None or after is None:
        return None
    names = set(before) | set(after)
    changes = [
        FunctionFuel(name, Change(before.get(name, 0), after.get(name, 0))) for name in names
    ]
    changes.sort(key=lambda f: (-abs(f.fuel.delta or 0), f.name))
    return tuple(changes)


# -- CI gates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """`--max-fuel-increase PCT` or `--max-duration-increase PCT`, checked on a diff."""

    option: str
    measure: str  # "fuel" or "plugin time"
    limit_percent: float
    change: Change
    exceeded: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        percent = self.change.percent
        return {
            "option": self.option,
            "measure": self.measure,
            "limit_percent": self.limit_percent,
            "percent": None if percent is None else round(percent, 3),
            "exceeded": self.exceeded,
            "reason": self.reason,
        }


def check_gate(option: str, measure: str, change: Change, limit_percent: float) -> Gate:
    """Whether `change` grew by more than `limit_percent`. A value a run does not have
    fails the gate: a gate that cannot check must not pass."""
    if change.old is None or change.new is None:
        side = "old" if change.old is None else "new"
        return Gate(
            option, measure, limit_percent, change, True, f"{measure} unknown in the {side} run"
        )
    percent = change.percent
    if percent is None:  # from 0 to something
        return Gate(option, measure, limit_percent, change, True, f"{measure} grew from 0")
    exceeded = percent > limit_percent
    verb = "above" if exceeded else "within"
    return Gate(
        option,
        measure,
        limit_percent,
        change,
        exceeded,
        f"{measure} {percent:+.1f}%, {verb} the allowed +{limit_percent:g}%",
    )


def check_gates(
    diff: TraceDiff, max_fuel_increase: float | None, max_duration_increase: float | None
) -> tuple[Gate, ...]:
    gates = []
    if max_fuel_increase is not None:
        gates.append(check_gate("--max-fuel-increase", "fuel", diff.fuel, max_fuel_increase))
    if max_duration_increase is not None:
        gates.append(
            check_gate(
                "--max-duration-increase",
                "plugin time",
                diff.stages["plugin"],
                max_duration_increase,
            )
        )
    return tuple(gates)
