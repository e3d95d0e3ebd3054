"""A run's fuel profile, read from its trace (the shape is in docs/design.md, "Profiles").

The trace holds the stack tree as nodes; here each node becomes a `Stack`: its frames
from the outermost function in, its self fuel (spent while it was the current stack),
calls and self time. Functions come as the profiler computed them (per function, exact
even past the stack-table bound).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from wasmcli.tracing.events import ExecutionTrace

# The frame that stands for fuel spent outside any function: instantiation's charges.
INSTANTIATION = "[instantiation]"


@dataclass(frozen=True)
class Stack:
    frames: tuple[str, ...]  # outermost first
    self_fuel: int
    calls: int
    self_time_us: int
    at_fault: bool = False


@dataclass(frozen=True)
class FunctionStats:
    name: str
    calls: int
    self_fuel: int
    total_fuel: int
    self_time_us: int
    total_time_us: int


@dataclass(frozen=True)
class Profile:
    trace_id: str
    binary_name: str | None
    engine: str | None
    outcome: str
    fuel_consumed: int | None
    fuel_attributed: int
    functions: tuple[FunctionStats, ...]
    stacks: tuple[Stack, ...]  # in node order (a parent before its children)
    fault_stack: tuple[str, ...] | None
    stacks_truncated: int
    time_note: str
    raw: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.binary_name or 'plugin'} ({self.trace_id[:8]}, {self.engine})"


class NoProfile(ValueError):
    """The trace holds no profile (its run was not profiled)."""


def profile_of(trace: ExecutionTrace) -> Profile:
    """The trace's profile; NoProfile when the run was not profiled."""
    data = trace.profile
    if data is None:
        raise NoProfile(f"trace {trace.trace_id[:8]} has no profile: run the plugin with --profile")
    return from_dict(data, trace)


def from_dict(data: Mapping[str, Any], trace: ExecutionTrace) -> Profile:
    names = {int(k): str(v) for k, v in (data.get("names") or {}).items()}

    def name(function: int) -> str:
        return INSTANTIATION if function < 0 else names.get(function, f"func[{function}]")

    nodes = data.get("nodes") or []
    frames: list[tuple[str, ...]] = []
    stacks: list[Stack] = []
    fault = data.get("fault_node")
    for index, (parent, function, self_fuel, calls, self_us) in enumerate(nodes):
        path = () if parent < 0 else (*frames[parent], name(function))
        frames.append(path)
        shown = path or (INSTANTIATION,)
        if path or self_fuel:
            stacks.append(Stack(shown, int(self_fuel), int(calls), int(self_us), index == fault))
    functions = tuple(
        FunctionStats(
            str(row["name"]),
            int(row["calls"]),
            int(row["self_fuel"]),
            int(row["total_fuel"]),
            int(row.get("self_time_us") or 0),
            int(row.get("total_time_us") or 0),
        )
        for row in data.get("functions") or []
    )
    fault_stack = frames[fault] if isinstance(fault, int) and 0 <= fault < len(frames) else None
    return Profile(
        trace_id=trace.trace_id,
        binary_name=trace.binary_name,
        engine=trace.engine,
        outcome=str(data.get("outcome")),
        fuel_consumed=data.get("fuel_consumed"),
        fuel_attributed=int(data.get("fuel_attributed") or 0),
        functions=functions,
        stacks=tuple(stacks),
        fault_stack=fault_stack,
        stacks_truncated=int(data.get("stacks_truncated") or 0),
        time_note=str(data.get("time") or ""),
        raw=data,
    )


def hottest_stacks(profile: Profile, count: int) -> list[Stack]:
    ranked = sorted(profile.stacks, key=lambda s: (-s.self_fuel, s.frames))
    return [stack for stack in ranked[:count] if stack.self_fuel > 0]
