"""The trace samples the renderer, table and export tests use are real: what wasmcli
records now has the shape of what was recorded into tests/fixtures/traces/.

When this fails, the recorder changed: record the samples again
(`python -m tests.record_trace_samples`) and update the tests that read them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import REPO, CliResult
from .trace_samples import SAMPLES, Sample, run_args, sample_trace

_NUMBER = re.compile(r"\d[\d,.]*")


def _mask(text: object) -> str:
    return _NUMBER.sub("N", str(text))


def shape(trace: dict[str, Any]) -> dict[str, Any]:
    """What must not drift: the outcome, and per event its type, message (numbers
    masked) and metadata keys."""
    return {
        "binary_name": trace["binary_name"],
        "success": trace["success"],
        "error_kind": trace["error_kind"],
        "error_message": _mask(trace["error_message"]),
        "return_code": trace["return_code"],
        "fuel_known": trace["fuel_consumed"] is not None,
        "events": [
            (e["event_type"], _mask(e["message"]), sorted(e["metadata"])) for e in trace["events"]
        ],
    }


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # samples name their plugins relative to the repository


@pytest.mark.usefixtures("in_repo")
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_a_sample_has_the_shape_of_a_run_today(
    sample: Sample, any_engine_cli: Callable[..., CliResult]
) -> None:
    result = any_engine_cli(*run_args(sample))
    assert result.exit_code == sample.exit_code, result
    recorded_now = any_engine_cli("traces", "show", "--last", "--json").json()
    assert isinstance(recorded_now, dict)
    assert shape(sample_trace(sample.name).to_dict()) == shape(recorded_now)


def test_the_samples_cover_every_event_type_and_load_step() -> None:
    seen = {
        (e.event_type.value, e.metadata.get("step"))
        for s in SAMPLES
        for e in sample_trace(s.name).events
    }
    assert {kind for kind, _ in seen} >= {
        "ExecutionStart",
        "LoadStart",
        "LoadComplete",
        "LoadError",
        "ExecutionComplete",
        "ExecutionError",
        "FunctionCall",
        "HostFunctionCall",
        "MemoryOp",
        "FuelCheckpoint",
        "PluginLog",
    }
    steps = {step for kind, step in seen if kind == "LoadComplete"}
    assert steps == {"resolve", "engine_import", "engine_start", "module"}
