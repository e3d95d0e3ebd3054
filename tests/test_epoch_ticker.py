"""engines/epoch.py: the one clock of every wasmtime run in a process.

A run is woken often enough to stop within a tick of its deadline, and no more often
than every CHECK_TICKS; the clock ticks only while a run is attached, so an idle
process (a daemon between requests) pays nothing for it.
"""

from __future__ import annotations

import threading
import time

import pytest

from wasmcli.engines import epoch
from wasmcli.engines.epoch import CHECK_TICKS, Run, Ticker


@pytest.mark.parametrize(
    ("ms_left", "ticks"),
    [
        (1000, CHECK_TICKS),  # far off: checked every CHECK_TICKS
        (12, 3),  # 12 ms: woken at the tick that reaches it (ticks of 5 ms)
        (4, 1),  # within a tick: the next one
        (-20, 1),  # already past: the next tick stops it
    ],
)
def test_a_run_is_woken_at_its_deadline_or_every_few_ticks(
    monkeypatch: pytest.MonkeyPatch, ms_left: int, ticks: int
) -> None:
    now = [1000.0]
    monkeypatch.setattr(epoch.time, "monotonic", lambda: now[0])
    run = Run(Ticker(lambda: None), timeout_ms=5000)
    now[0] = run.deadline - ms_left / 1000
    assert run.ticks_to_next_check() == ticks
    assert run.expired() is (ms_left <= 0)


def test_the_clock_ticks_only_while_a_run_is_attached() -> None:
    ticks = []
    ticked = threading.Event()

    def increment() -> None:
        ticks.append(time.monotonic())
        ticked.set()

    ticker = Ticker(increment)
    run = ticker.attach(timeout_ms=10_000)
    assert ticked.wait(5), "the clock never ticked"
    ticker.detach(run)
    time.sleep(0.1)  # a tick under way when the run left may still land
    idle_from = len(ticks)
    time.sleep(0.2)  # 40 ticks' time
    assert len(ticks) == idle_from, "an idle clock went on ticking"
    # A new run wakes it again.
    ticked.clear()
    again = ticker.attach(timeout_ms=10_000)
    assert ticked.wait(5)
    ticker.detach(again)
