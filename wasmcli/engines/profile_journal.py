"""A wasmer run's profile kept when its child process is killed (a timeout, a signal).

wasmer runs in a child process (isolation.py) that the parent kills at the deadline, and
whatever the child's profiler held would die with it. So when the run is profiled, the
parent creates a `ProfileJournal` before it forks, and the child's profiler
(`JournaledProfiler`) writes every event into it as it handles it: a ring of events in
memory both processes share, and, each time the ring is full, the profiler's whole state
(JSON) in one of two snapshot files, after which the ring starts again. After the kill,
`recover` loads the last snapshot and replays the ring's events through the same
`FuelProfiler` code: the profile up to the last call or return before the fault, exactly
as the child had it (and as wasmtime, whose profiler runs in-process, keeps it).

A kill can come between any two writes of the child; their order keeps every moment
readable:
- an event is written, then counted: one not counted yet never happened for the parent;
- a snapshot is written whole (into the file the last one is not in), then named in the
  header by its generation g + 1 (one store), then the ring restarts (count 0, generation
  g + 1). A snapshot of the ring's generation: replay the ring onto it; one a generation
  ahead: it already holds the ring's events.
The parent resets the header before each run, while the child waits for its task. The
parent reads the journal only once the child is dead, so it sees every write the child
made. It trusts nothing in it: a state that does not hold together is no profile.

Costs: four stores into shared memory per event (against the event's own microsecond or
so), and a snapshot per `CAPACITY` events. Sharing needs `fork` (Linux): elsewhere a
killed wasmer run keeps no profile.
"""

from __future__ import annotations

import json
import mmap
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

from wasmcli.engines.profiler import FuelProfiler

# Events in the ring (3 int64 each: 6 MiB of shared memory, touched only as written).
CAPACITY = 1 << 18
EXIT = -1  # an exit in the ring; an entry is the entered function's index (>= 0)
# The header: int64 slots, each written by one store. WORDS: how much of the ring holds
# events (3 words each). SNAP_GEN: the generation of the last whole snapshot, which is in
# file SNAP_GEN % 2 (so that one store names both).
STARTED, CREATED_NS, RING_GEN, WORDS, SNAP_GEN = range(5)
_HEADER = 8


class ProfileJournal:
    """The memory and files a profiled child and its parent share (module docstring)."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity or CAPACITY
        self._memory = mmap.mmap(-1, (_HEADER + 3 * self.capacity) * 8)  # shared across fork
        self._words = memoryview(self._memory).cast("q")
        self.header = self._words[:_HEADER]
        self.ring = self._words[_HEADER:]
        self._snapshots = [tempfile.TemporaryFile(prefix="wasmcli-profile-") for _ in range(2)]

    def reset(self) -> None:
        """Before a run (the parent, while the child is idle): nothing recorded."""
        for slot in range(_HEADER):
            self.header[slot] = 0

    def close(self) -> None:
        for view in (self.header, self.ring, self._words):
            view.release()
        self._memory.close()
        for snapshot in self._snapshots:
            snapshot.close()

    # -- the child's side ------------------------------------------------------------

    def begin(self, created_ns: int) -> None:
        """A profiler started (at `created_ns`): the parent may recover a profile."""
        self.header[CREATED_NS] = created_ns
        self.header[STARTED] = 1

    def save(self, state: dict[str, Any]) -> None:
        """The profiler's state, holding every event recorded so far; the ring restarts."""
        generation = self.header[RING_GEN] + 1
        # The other file than the last snapshot's: that one stays whole until this is.
        data = json.dumps({"generation": generation, "state": state}, separators=(",", ":"))
        fd = self._snapshots[generation % 2].fileno()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data.encode(), 0)
        self.header[SNAP_GEN] = generation
        self.header[WORDS] = 0
        self.header[RING_GEN] = generation

    # -- the parent's side -----------------------------------------------------------

    def recover(self, depth_refund: int) -> FuelProfiler | None:
        """The child's profiler as it was at its last recorded event (the child must be
        dead); None when no profiler started or what is here does not hold together."""
        header = self.header
        if not header[STARTED]:
            return None
        snapshot_gen, ring_gen = header[SNAP_GEN], header[RING_GEN]
        try:
            if snapshot_gen:
                fd = self._snapshots[snapshot_gen % 2].fileno()
                saved = json.loads(os.pread(fd, os.fstat(fd).st_size, 0))
                if saved["generation"] != snapshot_gen:
                    return None
                profiler = FuelProfiler.from_state(saved["state"], _no_reading)
            else:
                profiler = FuelProfiler(_no_reading, depth_refund)
                profiler.last_ns = header[CREATED_NS]
            if snapshot_gen == ring_gen:
                words = min(max(header[WORDS], 0), 3 * self.capacity)
                for at in range(0, words - words % 3, 3):
                    kind, counted, now_ns = self.ring[at : at + 3]
                    if kind == EXIT:
                        profiler.exit_at(counted, now_ns)
                    else:
                        profiler.enter_at(kind, counted, now_ns)
            elif snapshot_gen != ring_gen + 1:
                return None
        except (OSError, ValueError, IndexError, KeyError, TypeError):
            return None
        return profiler


def _no_reading() -> int:
    raise RuntimeError("a recovered profiler reads no fuel: its events carry it")


class JournaledProfiler(FuelProfiler):
    """The child's profiler: every event also goes into the journal (module docstring).
    Each event is written straight into the shared ring, then counted (four stores): the
    hot path of a profiled call."""

    def __init__(
        self, read_fuel: Callable[[], int], depth_refund: int, journal: ProfileJournal
    ) -> None:
        super().__init__(read_fuel, depth_refund)
        self.journal = journal
        self._ring = journal.ring
        self._header = journal.header
        self._at = 0  # words of the ring written
        self._end = 3 * journal.capacity
        journal.begin(self.last_ns)

    def enter(self, function: int) -> None:
        counted, now_ns = self.read_fuel(), time.perf_counter_ns()
        ring, at = self._ring, self._at
        ring[at] = function
        ring[at + 1] = counted
        ring[at + 2] = now_ns
        self._at = at = at + 3
        self._header[WORDS] = at
        self.enter_at(function, counted, now_ns)
        if at >= self._end:
            self._save()

    def exit(self) -> None:
        counted, now_ns = self.read_fuel(), time.perf_counter_ns()
        ring, at = self._ring, self._at
        ring[at] = EXIT
        ring[at + 1] = counted
        ring[at + 2] = now_ns
        self._at = at = at + 3
        self._header[WORDS] = at
        self.exit_at(counted, now_ns)
        if at >= self._end:
            self._save()

    def _save(self) -> None:
        self.journal.save(self.state())
        self._at = 0
