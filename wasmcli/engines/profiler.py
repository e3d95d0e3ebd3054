"""The host side of `run --profile`: a shadow stack fed by the profiling pass's events.

The module compiled with `FuelProfile` (wasm/profile.py) calls `enter(index)` as each of
its functions starts and `exit()` as it ends. `FuelProfiler` keeps the call stack those
events describe and charges the fuel counted between two events to the stack current
between them (`read_fuel` gives the fuel counted so far: wasmtime's store, or the fuel
pass's global on wasmer; both are exact at a call to the host). The code wasmcli adds is
not charged to anyone: each entry's `ENTER_PRELUDE` is moved from the caller (where it
falls) to the callee, and the refunds made right after an enter event (`REFUND`, and the
call-depth pass's `CALL_COST`) are taken from the callee at the next event, once they
have run. So over a completed run, the fuel of every stack sums to `fuel_consumed`.

Stacks are nodes of a tree (a node is its parent and a function); at most `MAX_STACKS`
are kept: a call that would make a new one past that is counted in the deepest recorded
frame's stack instead (`stacks_truncated` says how many calls were), while the
per-function figures, which need no stacks, stay exact.

Wall time: the host clock (`time.perf_counter_ns`) at each event, so each stack's self
time and each function's times include the profiler's own work at the events (a host call
of a few microseconds on wasmtime, about one on wasmer): exact in what they measure, but
an overestimate for functions that run for less than that per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from wasmcli.wasm.depth import CALL_COST, EXIT_COST
from wasmcli.wasm.profile import ENTER_PRELUDE, EXIT_EVENT_COST, REFUND

PROFILE_VERSION = 1
# Nodes of the stack tree kept in a trace; each costs about 30 bytes there.
MAX_STACKS = 50_000
ROOT = 0
# The root's own fuel: instantiation's charges outside any function (segments, constant
# expressions), named like a frame so that every exporter can show it.
INSTANTIATION = "[instantiation]"
TIME_NOTE = (
    "measured with the host clock at each function entry and exit; includes the "
    "profiler's own cost at those events (microseconds per call)"
)


def depth_refund(max_call_depth: int | None) -> int:
    """What the call-depth pass refunds at each entry (0 when the run counts no depth)."""
    if max_call_depth is None:
        return 0
    return CALL_COST


@dataclass(frozen=True)
class ModuleNames:
    """What a profile names functions by: `functions`, from the plugin's name section
    (demangled; an export's name stands in for a function the section does not name),
    and `exports`, each exported function's index by export name."""

    functions: Mapping[int, str]
    exports: Mapping[str, int]


def module_names(wasm: bytes) -> ModuleNames:
    """The plugin's names (see ModuleNames)."""
    from wasmcli.engines.demangle import demangle
    from wasmcli.wasm import read_module_info

    try:
        info = read_module_info(wasm)
    except Exception:  # noqa: BLE001 - a module that ran is readable; a name is not vital
        return ModuleNames({}, {})
    exports = {e.name: e.index for e in info.exports if e.kind == "func"}
    names = {index: name for name, index in exports.items()}
    names.update((index, demangle(name)) for index, name in info.function_names.items())
    return ModuleNames(names, exports)


class FuelProfiler:
    """One run's shadow stack and fuel attribution (see the module docstring)."""

    def __init__(self, read_fuel: Callable[[], int], depth_refund: int) -> None:
        self.read_fuel = read_fuel
        self.refund = REFUND + depth_refund
        self.parents: list[int] = [-1]
        self.functions: list[int] = [-1]
        self.children: dict[tuple[int, int], int] = {}
        self.self_fuel: list[int] = [0]
        self.calls: list[int] = [0]
        self.self_ns: list[int] = [0]
        self.stack: list[int] = [ROOT]  # node ids
        self.frames: list[int] = []  # function indices (exact past the stack bound)
        self.truncated = 0
        # per function: calls, self fuel, total fuel, self ns, total ns, and for totals
        # (recursion counted once) how many of its frames are open and since when
        self.f_calls: dict[int, int] = {}
        self.f_self: dict[int, int] = {}
        self.f_total: dict[int, int] = {}
        self.f_self_ns: dict[int, int] = {}
        self.f_total_ns: dict[int, int] = {}
        self.f_open: dict[int, int] = {}
        self.f_since: dict[int, tuple[int, int]] = {}
        self.counted = 0  # fuel read at the last event
        self.pending = 0  # refunds made after the last enter event
        self.attributed = 0
        self.last_ns = time.perf_counter_ns()

    def _charge(self, fuel: int, now_ns: int) -> None:
        node = self.stack[-1]
        self.self_fuel[node] += fuel
        elapsed = now_ns - self.last_ns
        self.self_ns[node] += elapsed
        if self.frames:
            function = self.frames[-1]
            self.f_self[function] = self.f_self.get(function, 0) + fuel
            self.f_self_ns[function] = self.f_self_ns.get(function, 0) + elapsed
        self.attributed += fuel
        self.last_ns = now_ns

    def enter(self, function: int) -> None:
        self.enter_at(function, self.read_fuel(), time.perf_counter_ns())

    def exit(self) -> None:
        self.exit_at(self.read_fuel(), time.perf_counter_ns())

    def enter_at(self, function: int, counted: int, now_ns: int) -> None:
        """`function` entered when the fuel counted was `counted`, at `now_ns`."""
        self._charge(counted - self.counted - self.pending - ENTER_PRELUDE, now_ns)
        self.counted = counted
        parent = self.stack[-1]
        key = (parent, function)
        node = self.children.get(key)
        if node is None:
            if len(self.parents) < MAX_STACKS:
                node = len(self.parents)
                self.children[key] = node
                self.parents.append(parent)
                self.functions.append(function)
                self.self_fuel.append(0)
                self.calls.append(0)
                self.self_ns.append(0)
            else:
                node = parent
                self.truncated += 1
        self.calls[node] += 1
        self.stack.append(node)
        self.frames.append(function)
        self.f_calls[function] = self.f_calls.get(function, 0) + 1
        open_frames = self.f_open.get(function, 0)
        if not open_frames:
            self.f_since[function] = (self.attributed, now_ns)
        self.f_open[function] = open_frames + 1
        # The callee's own prelude, then the refunds its entry makes (taken at the next
        # event, when they have run).
        self._charge(ENTER_PRELUDE, now_ns)
        self.pending = self.refund

    def exit_at(self, counted: int, now_ns: int) -> None:
        """The current function returned when the fuel counted was `counted`."""
        self._charge(counted - self.counted - self.pending, now_ns)
        self.counted = counted
        self.pending = 0
        if len(self.stack) > 1:
            self.stack.pop()
            function = self.frames.pop()
            open_frames = self.f_open[function] - 1
            self.f_open[function] = open_frames
            if not open_frames:
                fuel_at, ns_at = self.f_since.pop(function)
                self._close_total(function, fuel_at, ns_at, now_ns)

    # -- the state, for a profiler in another process (profile_journal.py) ---------------

    _LISTS = ("parents", "functions", "self_fuel", "calls", "self_ns", "stack", "frames")
    _BY_FUNCTION = ("f_calls", "f_self", "f_total", "f_self_ns", "f_total_ns", "f_open")
    _NUMBERS = ("truncated", "counted", "pending", "attributed", "last_ns", "refund")

    def state(self) -> dict[str, Any]:
        """Everything the profile is made of, as JSON-ready data (`from_state` reads it)."""
        found: dict[str, Any] = {name: getattr(self, name) for name in self._LISTS}
        found.update((name, getattr(self, name)) for name in self._NUMBERS)
        for name in self._BY_FUNCTION:
            found[name] = list(getattr(self, name).items())
        found["f_since"] = [[f, fuel, ns] for f, (fuel, ns) in self.f_since.items()]
        return found

    @classmethod
    def from_state(cls, state: Mapping[str, Any], read_fuel: Callable[[], int]) -> FuelProfiler:
        """A profiler that carries on from `state` (ValueError for what is not one)."""
        profiler = cls(read_fuel, 0)
        try:
            for name in cls._LISTS:
                setattr(profiler, name, [int(v) for v in state[name]])
            for name in cls._NUMBERS:
                setattr(profiler, name, int(state[name]))
            for name in cls._BY_FUNCTION:
                setattr(profiler, name, {int(f): int(v) for f, v in state[name]})
            profiler.f_since = {int(f): (int(fuel), int(ns)) for f, fuel, ns in state["f_since"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a profiler's state: {exc}") from None
        nodes = len(profiler.parents)
        if not all(
            len(getattr(profiler, name)) == nodes
            for name in ("functions", "self_fuel", "calls", "self_ns")
        ) or not (
            profiler.stack[:1] == [ROOT]
            and len(profiler.frames) == len(profiler.stack) - 1
            and all(0 <= node < nodes for node in profiler.stack)
        ):
            raise ValueError("not a profiler's state: its stack tree does not hold together")
        profiler.children = {
            (profiler.parents[i], profiler.functions[i]): i for i in range(1, nodes)
        }
        return profiler

    def _give_back_unrun_exits(self) -> None:
        """A run that stopped left its frames open: the exit code their entries' refunds
        paid for in advance (`call exit`, and the call-depth pass's exit) never ran, so
        each open frame whose refund was taken gets it back (without this, a frame that
        called something and then trapped shows negative fuel)."""
        unrun = EXIT_EVENT_COST + (EXIT_COST if self.refund > REFUND else 0)
        open_frames = len(self.frames)
        if self.pending:  # the innermost frame's refund was never taken
            open_frames -= 1
        paid = zip(self.stack[1 : open_frames + 1], self.frames[:open_frames], strict=True)
        outermost: dict[int, int] = {}  # each open function's outermost frame's depth
        for depth, (node, function) in enumerate(paid):
            self.self_fuel[node] += unrun
            self.f_self[function] = self.f_self.get(function, 0) + unrun
            self.attributed += unrun
            outermost.setdefault(function, depth)
        # A function's total holds what its frames and their callees were given back, not
        # what the frames around its outermost one were.
        for function, (fuel_at, ns_at) in self.f_since.items():
            outer = outermost.get(function, open_frames)
            self.f_since[function] = (fuel_at + unrun * min(outer, open_frames), ns_at)

    def _close_total(self, function: int, fuel_at: int, ns_at: int, now_ns: int) -> None:
        self.f_total[function] = self.f_total.get(function, 0) + self.attributed - fuel_at
        self.f_total_ns[function] = self.f_total_ns.get(function, 0) + now_ns - ns_at

    def finish(self, outcome: str, fuel_consumed: int | None, names: ModuleNames) -> dict[str, Any]:
        """The profile (docs/design.md, "Profiles"). `outcome`: "completed",
        "out_of_fuel", or the error kind of a run that stopped otherwise (its last
        stack is marked as the fault's); `fuel_consumed` as the run reports it."""
        now_ns = time.perf_counter_ns()
        if outcome != "completed":
            self._give_back_unrun_exits()
        if outcome == "out_of_fuel" and fuel_consumed is not None:
            # The count at the fault is lost with the trap: what the limit held beyond
            # the last event was spent in the stack at the fault.
            self._charge(fuel_consumed - self.attributed, now_ns)
        elif outcome != "completed":
            self._charge(0, now_ns)  # the time up to the fault
        fault = None if outcome == "completed" else self.stack[-1]
        # Frames still open: their totals run to the fault.
        for function, (fuel_at, ns_at) in list(self.f_since.items()):
            self._close_total(function, fuel_at, ns_at, now_ns)
        return self._document(outcome, fuel_consumed, names, fault)

    def _document(
        self, outcome: str, fuel_consumed: int | None, names: ModuleNames, fault: int | None
    ) -> dict[str, Any]:
        def name(function: int) -> str:
            if function < 0:
                return INSTANTIATION
            return names.functions.get(function) or f"func[{function}]"

        functions = sorted(
            set(self.f_calls) | set(self.f_self),
            key=lambda f: (-self.f_self.get(f, 0), f),
        )
        root_fuel = self.self_fuel[ROOT]
        function_rows: list[dict[str, Any]] = [
            {
                "index": f,
                "name": name(f),
                "calls": self.f_calls.get(f, 0),
                "self_fuel": self.f_self.get(f, 0),
                "total_fuel": self.f_total.get(f, 0),
                "self_time_us": self.f_self_ns.get(f, 0) // 1000,
                "total_time_us": self.f_total_ns.get(f, 0) // 1000,
            }
            for f in functions
        ]
        if root_fuel:
            function_rows.append(
                {
                    "index": None,
                    "name": INSTANTIATION,
                    "calls": 0,
                    "self_fuel": root_fuel,
                    "total_fuel": root_fuel,
                    "self_time_us": 0,
                    "total_time_us": 0,
                }
            )
            function_rows.sort(key=lambda row: -row["self_fuel"])
        return {
            "version": PROFILE_VERSION,
            "outcome": outcome,
            "fuel_consumed": fuel_consumed,
            "fuel_attributed": self.attributed,
            "functions": function_rows,
            # The stack tree: node i is [parent, function index, self fuel, calls,
            # self time in us]; node 0 the root (no function).
            "nodes": [
                [
                    self.parents[i],
                    self.functions[i],
                    self.self_fuel[i],
                    self.calls[i],
                    self.self_ns[i] // 1000,
                ]
                for i in range(len(self.parents))
            ],  # fmt: skip
            "names": {str(f): name(f) for f in functions},
            # The exported functions among those called, by export name (what the host
            # called: `process`, `alloc`, ...).
            "exports": {
                export: index
                for export, index in sorted(names.exports.items())
                if index in self.f_calls
            },
            "fault_node": fault,
            "stacks_truncated": self.truncated,
            "max_stacks": MAX_STACKS,
            "time": TIME_NOTE,
        }
