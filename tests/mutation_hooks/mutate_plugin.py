"""pytest plugin for `make mutate` (tests/mutate.py passes `-p mutate_plugin`).

- The functions that a test's own subprocesses reached (see sitecustomize.py here) count
  as reached by that test.
- A mutant's tests run fastest first (by their time in mutmut's clean run): mutmut stops
  at the first failure, so a mutant that a quick test kills costs that test alone rather
  than the shell tests that happened to come first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest


@pytest.hookimpl(tryfirst=True)  # before mutmut's collector reads what the test reached
def pytest_runtest_teardown(item: pytest.Item) -> None:
    path = os.environ.get("MUTMUT_SUBPROCESS_HITS")
    if os.environ.get("MUTANT_UNDER_TEST") != "stats" or not path or not Path(path).exists():
        return
    from mutmut.state import state

    hits = Path(path)
    state()._stats.update(name for name in hits.read_text().split() if name)
    hits.unlink()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = Path("mutmut-stats.json")  # in mutants/, where mutmut runs pytest
    if os.environ.get("MUTANT_UNDER_TEST") in (None, "", "stats") or not stats.exists():
        return
    durations = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, float("inf")))
