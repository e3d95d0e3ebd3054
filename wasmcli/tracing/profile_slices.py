"""A run's fuel profile (`run --profile`) laid out as nested slices under `process`.

The profile keeps aggregates, not a call sequence: for each call stack, its self fuel,
calls and self time summed over the whole run (docs/design.md, "Profiles"). So these
slices are a layout of those aggregates, not a recording of when each call ran:

- the stack of the `process` call starts where `process` starts, as long as its measured
  time (its own and its callees', over the run);
- inside every slice, its callees' stacks follow one another from the slice's start, in
  the order they were first called, each as long as its own total time; what is left at
  the end of a slice is its self time;
- should the measured times not fit in `process` (the profile's clock is read at the
  calls, the phase's at its events), every slice is scaled down by the same factor;
- only the stacks under `process` are drawn: those of other calls the host makes (`alloc`,
  a start function) are in `traces profile` and the folded and speedscope exports.

So a slice's width is time, like every slice around it, and the picture is Perfetto's
flame chart of the run; the fuel is in each slice's args (self and total, exact). The
order is deterministic: the same run always draws the same picture.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

ENTRY_EXPORT: Final = "process"
LAYOUT_NOTE: Final = (
    "aggregate per call stack, not a call sequence: each stack as long as its time over "
    "all its calls, callees in the order first called, self time at the end"
)


@dataclass(frozen=True)
class ProfileSlice:
    name: str
    begin_us: int
    end_us: int
    args: dict[str, Any]


@dataclass
class _Node:
    function: int
    self_fuel: int
    calls: int
    self_us: int
    at_fault: bool
    children: list[_Node] = field(default_factory=list)
    total_fuel: int = 0
    total_us: int = 0


def _tree(profile: Mapping[str, Any]) -> list[_Node]:
    """Every node of the stack tree, children in node (first-call) order; totals filled."""
    fault = profile.get("fault_node")
    nodes: list[_Node] = []
    for index, (parent, function, self_fuel, calls, self_us) in enumerate(profile["nodes"]):
        node = _Node(int(function), int(self_fuel), int(calls), int(self_us), index == fault)
        nodes.append(node)
        if 0 <= parent < index:
            nodes[parent].children.append(node)
    for node in reversed(nodes):  # children come after their parent
        node.total_fuel = node.self_fuel + sum(c.total_fuel for c in node.children)
        node.total_us = node.self_us + sum(c.total_us for c in node.children)
    return nodes


def _entry_nodes(profile: Mapping[str, Any], root: _Node) -> list[_Node]:
    names = profile.get("names") or {}
    exports = profile.get("exports")
    if isinstance(exports, Mapping) and ENTRY_EXPORT in exports:
        wanted = exports[ENTRY_EXPORT]
        return [n for n in root.children if n.function == wanted]
    # Profiles written before `exports`: the function the name section calls `process`.
    return [n for n in root.children if names.get(str(n.function)) == ENTRY_EXPORT]


def profile_slices(
    profile: Mapping[str, Any], begin_us: int, end_us: int
) -> Iterator[ProfileSlice]:
    """The slices of `process`'s stacks within [begin_us, end_us] (see the module
    docstring), each parent before its callees."""
    try:
        nodes = _tree(profile)
    except (KeyError, TypeError, ValueError):
        return  # not a profile this version can read: nothing drawn
    if not nodes:
        return
    names = profile.get("names") or {}
    entries = _entry_nodes(profile, nodes[0])
    measured = sum(n.total_us for n in entries)
    room = max(end_us - begin_us, 0)

    def at(offset: int) -> int:
        # Offsets scaled by one factor, floored: monotonic, so nested stays nested.
        if measured <= room:
            return begin_us + offset
        return begin_us + offset * room // measured

    # Depth first, each parent before its callees; a stack rather than recursion, as a
    # recursive plugin's stacks are as deep as its recursion.
    pending: list[tuple[_Node, int]] = []
    offset = 0
    for entry in entries:
        pending.append((entry, offset))
        offset += entry.total_us
    pending.reverse()
    first = True
    while pending:
        node, offset = pending.pop()
        args: dict[str, Any] = {
            "self_fuel": node.self_fuel,
            "total_fuel": node.total_fuel,
            "calls": node.calls,
            "self_time_us": node.self_us,
            "total_time_us": node.total_us,
        }
        if node.at_fault:
            args["at_fault"] = True
        if first:
            args["layout"] = LAYOUT_NOTE
            first = False
        name = names.get(str(node.function)) or f"func[{node.function}]"
        yield ProfileSlice(str(name), at(offset), at(offset + node.total_us), args)
        placed: list[tuple[_Node, int]] = []
        for child in node.children:
            placed.append((child, offset))
            offset += child.total_us
        pending.extend(reversed(placed))


__all__ = ["LAYOUT_NOTE", "ProfileSlice", "profile_slices"]
