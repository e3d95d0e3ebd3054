"""pytest plugin for `make mutate`: the functions that a test's own subprocesses reached
(see sitecustomize.py here) count as reached by that test."""

from __future__ import annotations

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
