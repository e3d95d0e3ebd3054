"""The journal a profiled wasmer child keeps for wasmcli: whatever moment the child is
killed at, what wasmcli recovers is the child's profiler as of its last whole event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wasmcli.engines.profile_journal import (
    RING_GEN,
    SNAP_GEN,
    WORDS,
    JournaledProfiler,
    ProfileJournal,
)
from wasmcli.engines.profiler import FuelProfiler, ModuleNames


@pytest.fixture
def journal() -> Iterator[ProfileJournal]:
    found = ProfileJournal(capacity=10)
    yield found
    found.close()


def _events(profiler: FuelProfiler, count: int) -> None:
    """A recursion and some calls, `count` events in all (enter and exit, alternating in
    a pattern that opens and closes frames)."""
    for i in range(count):
        if i % 3 == 2:
            profiler.exit()
        else:
            profiler.enter(i % 4)


def _profiler(journal: ProfileJournal) -> JournaledProfiler:
    fuel = iter(range(0, 10**9, 17))
    return JournaledProfiler(lambda: next(fuel), 15, journal)


@pytest.mark.parametrize("events", [0, 1, 9, 10, 11, 29, 30, 31, 57])
def test_recovered_is_the_childs_profiler_at_its_last_event(journal, events: int) -> None:
    journal.reset()
    live = _profiler(journal)
    _events(live, events)
    recovered = journal.recover(15)
    assert recovered is not None
    assert recovered.state() == live.state()
    names = ModuleNames({0: "a", 1: "b", 2: "c", 3: "d"}, {})
    got, expected = (p.finish("timeout", None, names) for p in (recovered, live))
    # The same profile, times apart (each finish adds the time up to its own moment).
    assert [n[:4] for n in got["nodes"]] == [n[:4] for n in expected["nodes"]]
    assert got["fault_node"] == expected["fault_node"]
    assert got["fuel_attributed"] == expected["fuel_attributed"]


def test_a_kill_between_a_snapshot_and_the_rings_restart_replays_nothing(journal) -> None:
    journal.reset()
    live = _profiler(journal)
    _events(live, 9)  # one short of the ring's 10
    before = live.state()
    # The snapshot of the 10th event is saved, but the ring not yet restarted: as if
    # the child died between the two.
    header = journal.header
    _events(live, 1)
    assert (header[RING_GEN], header[WORDS]) == (1, 0)
    header[RING_GEN], header[WORDS] = 0, 30
    recovered = journal.recover(15)
    assert recovered is not None and recovered.state() == live.state() != before


def test_nothing_to_recover_before_a_profiler_started_or_from_nonsense(journal) -> None:
    journal.reset()
    assert journal.recover(15) is None
    live = _profiler(journal)
    _events(live, 25)  # two snapshots
    assert journal.recover(15) is not None
    journal.header[RING_GEN] = 7  # generations that cannot follow each other
    assert journal.recover(15) is None
    # A header naming generation 3, whose file holds generation 1's snapshot.
    journal.header[SNAP_GEN] = journal.header[RING_GEN] = 3
    assert journal.recover(15) is None
    journal.reset()
    assert journal.recover(15) is None  # a new run: nothing of the last one
