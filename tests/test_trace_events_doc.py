"""docs/trace-events.md against what real runs record, on every engine: each key a run
records is documented for its event, and each documented key is recorded by some run."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import REPO, CliResult
from .trace_samples import SAMPLES, run_args

DOC = (REPO / "docs" / "trace-events.md").read_text(encoding="utf-8")
_KEY = re.compile(r"`([a-z_0-9]+)`")


@dataclass(frozen=True)
class Row:
    event: str
    which: str  # '', '`step`: resolve', 'with `suppressed`', 'without `fuel_consumed`'
    keys: frozenset[str]

    def matches(self, event: dict[str, Any]) -> bool:
        if event["event_type"] != self.event:
            return False
        meta = event["metadata"]
        if not self.which:
            return True
        key = _KEY.search(self.which)
        assert key, self.which
        name = key.group(1)
        if self.which.startswith("with "):
            return name in meta
        if self.which.startswith("without "):
            return name not in meta
        return meta.get(name) == self.which.split(":", 1)[1].strip()


def documented_rows() -> list[Row]:
    table = DOC.split("| event | which |", 1)[1].splitlines()[2:]
    rows = []
    for line in table:
        if not line.startswith("|"):
            break
        event, which, _when, metadata = (cell.strip() for cell in line.strip("|").split("|"))
        rows.append(Row(event, which, frozenset(_KEY.findall(metadata))))
    return rows


def test_the_table_is_read_whole() -> None:
    rows = documented_rows()
    assert len(rows) == 19
    assert {row.event for row in rows} == {
        "ExecutionStart", "LoadStart", "LoadComplete", "LoadError", "ExecutionComplete",
        "ExecutionError", "FunctionCall", "HostFunctionCall", "MemoryOp", "FuelCheckpoint",
        "PluginLog",
    }  # fmt: skip


@pytest.fixture
def recorded_events(
    engine: str, any_engine_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """Every event of a real run of every sample, on the test's engine."""
    monkeypatch.chdir(REPO)
    events: list[dict[str, Any]] = []
    for sample in SAMPLES:
        assert any_engine_cli(*run_args(sample, engine)).exit_code == sample.exit_code
        trace = any_engine_cli("traces", "show", "--last", "--json").json()
        assert isinstance(trace, dict)
        events.extend(trace["events"])
    return events


def test_every_recorded_key_is_documented_and_every_documented_key_recorded(
    recorded_events: list[dict[str, Any]],
) -> None:
    rows = documented_rows()
    seen: dict[Row, set[str]] = defaultdict(set)
    undocumented = []
    for event in recorded_events:
        matching = [row for row in rows if row.matches(event)]
        assert len(matching) == 1, (event["event_type"], event["metadata"], matching)
        (row,) = matching
        seen[row] |= set(event["metadata"])
        extra = set(event["metadata"]) - row.keys
        if extra:
            undocumented.append((row.event, row.which, sorted(extra)))
    assert undocumented == []
    never_recorded = [
        (r.event, r.which, sorted(r.keys - seen[r])) for r in rows if r.keys - seen[r]
    ]
    assert never_recorded == []
