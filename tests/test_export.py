"""Exports: JSON and JSON Lines read back as the same traces; Chrome traces are valid."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.trace_samples import (
    CONTROL_LINE,
    FIXTURES,
    MARKUP_LINE,
    all_samples,
    load_error_trace,
    out_of_fuel_trace,
    success_trace,
    suppressed_logs_trace,
    timeout_trace,
    trap_trace,
    tricky_logs_trace,
)
from wasmcli.tracing.events import ExecutionTrace, TraceEventType
from wasmcli.tracing.export import (
    EXPORT_FORMATS,
    export_traces,
    write_export,
)

ROOT = Path(__file__).resolve().parent.parent


# JSON and JSON Lines -------------------------------------------------------------------


def test_json_round_trips_through_from_dict() -> None:
    traces = all_samples()
    text = export_traces(traces, "json")
    data = json.loads(text)
    assert isinstance(data, list)
    assert [ExecutionTrace.from_dict(item) for item in data] == traces
    assert text.endswith("]\n")


def test_json_export_is_the_trace_format_traces_show_prints() -> None:
    # The samples were recorded from `traces show --json`: an export carries the same.
    data = json.loads(export_traces([success_trace()], "json"))
    recorded = json.loads((FIXTURES / "hello.json").read_text(encoding="utf-8"))
    assert data == [recorded]


def test_jsonl_is_one_compact_trace_per_line() -> None:
    traces = all_samples()
    text = export_traces(traces, "jsonl")
    lines = text.split("\n")
    assert lines.pop() == ""
    assert len(lines) == len(traces)
    for line in lines:  # compact: no spaces after separators
        assert line == json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False)
    assert [ExecutionTrace.from_dict(json.loads(line)) for line in lines] == traces


def test_untrusted_text_survives_the_round_trip() -> None:
    trace = tricky_logs_trace()
    for fmt in ("json", "jsonl"):
        text = export_traces([trace], fmt)
        back = json.loads(text) if fmt == "json" else [json.loads(text)]
        assert ExecutionTrace.from_dict(back[0]) == trace
        messages = [e["message"] for e in back[0]["events"]]
        assert CONTROL_LINE in messages and MARKUP_LINE in messages  # data: unchanged


def test_empty_exports() -> None:
    assert export_traces([], "json") == "[]\n"
    assert export_traces([], "jsonl") == ""
    chrome = json.loads(export_traces([], "chrome"))
    assert chrome["traceEvents"] == [] and chrome["otherData"]["trace_count"] == 0


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_write_export_writes_every_trace_to_the_stream(fmt: str) -> None:
    stream = io.StringIO()
    count = write_export(iter(all_samples()), fmt, stream)  # an iterator: read once
    assert count == len(all_samples())
    text = stream.getvalue()
    if fmt == "jsonl":
        ids = [json.loads(line)["trace_id"] for line in text.splitlines()]
    elif fmt == "json":
        ids = [item["trace_id"] for item in json.loads(text)]
    else:
        ids = json.loads(text)["otherData"]["trace_ids"]
    assert ids == [t.trace_id for t in all_samples()]


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown export format 'csv': use json, jsonl or chrome"):
        export_traces(all_samples(), "csv")
    with pytest.raises(ValueError):
        write_export([], "yaml", io.StringIO())


# Chrome Trace Event Format -------------------------------------------------------------


def chrome(traces: list[ExecutionTrace]) -> dict[str, Any]:
    # Through the text, as a viewer would read the file.
    data = json.loads(export_traces(traces, "chrome"))
    assert isinstance(data, dict)
    return data


def events_of(data: dict[str, Any], pid: int, ph: str | None = None) -> list[dict[str, Any]]:
    return [e for e in data["traceEvents"] if e["pid"] == pid and (ph is None or e["ph"] == ph)]


def slice_named(data: dict[str, Any], pid: int, name: str) -> dict[str, Any]:
    (found,) = [e for e in events_of(data, pid, "X") if e["name"] == name]
    return found


def test_chrome_document_has_the_required_shape() -> None:
    data = chrome(all_samples())
    assert set(data) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert data["displayTimeUnit"] == "ms"
    assert data["otherData"]["trace_count"] == len(all_samples())
    for event in data["traceEvents"]:
        assert {"name", "ph", "ts", "pid", "tid"} <= set(event), event
        assert isinstance(event["name"], str) and event["name"]
        assert event["ph"] in {"M", "X", "i", "C"}
        assert isinstance(event["ts"], (int, float)) and not isinstance(event["ts"], bool)
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] == "X":
            assert isinstance(event["dur"], (int, float)) and event["dur"] >= 0
        if event["ph"] == "i":
            assert event["s"] == "t"
        if event["ph"] == "C":
            assert all(isinstance(v, (int, float)) for v in event["args"].values())
        if event["ph"] == "M":
            assert event["name"] in {"process_name", "thread_name", "process_sort_index"}


def test_each_trace_is_a_named_process() -> None:
    traces = all_samples()
    data = chrome(traces)
    for pid, trace in enumerate(traces, start=1):
        meta = {e["name"]: e["args"] for e in events_of(data, pid, "M")}
        assert trace.trace_id[:8] in meta["process_name"]["name"]
        assert meta["thread_name"]["name"] == "run (wasmtime)"
        assert meta["process_sort_index"]["sort_index"] == pid
    names = {e["args"]["name"] for e in data["traceEvents"] if e["name"] == "process_name"}
    assert "hello · trace 3f2a9c1b" in names
    assert "abc-123 (not loaded) · trace a06c3d92" in names


def test_run_slice_lasts_as_long_as_the_trace() -> None:
    traces = all_samples()
    data = chrome(traces)
    for pid, trace in enumerate(traces, start=1):
        run = slice_named(data, pid, "run")
        offset = (trace.started_at - min(t.started_at for t in traces)).total_seconds()
        assert run["ts"] == round(offset * 1_000_000)
        assert run["dur"] == trace.duration_us
        assert run["args"]["trace_id"] == trace.trace_id
        assert run["args"]["success"] is trace.success


def test_phases_of_a_successful_run() -> None:
    data = chrome([success_trace()])
    load, inst, proc = (slice_named(data, 1, n) for n in ("load", "instantiate", "process"))
    assert (load["ts"], load["dur"]) == (160, 130_866)  # LoadStart -> module loaded
    assert (inst["ts"], inst["dur"]) == (131_540, 8_496)  # fuel limit set -> instantiated
    assert (proc["ts"], proc["dur"]) == (140_358, 2_907)  # process called -> complete
    assert proc["args"]["input_len"] == 5 and proc["args"]["return_code"] == 0
    assert load["args"]["source"] == "path" and load["args"]["from_cache"] is False
    run = slice_named(data, 1, "run")
    for phase in (load, inst, proc):  # properly nested, as viewers require
        assert run["ts"] <= phase["ts"] and phase["ts"] + phase["dur"] <= run["ts"] + run["dur"]
    assert load["ts"] + load["dur"] <= inst["ts"] and inst["ts"] + inst["dur"] <= proc["ts"]


def test_each_load_step_is_a_slice_inside_load() -> None:
    data = chrome([success_trace()])
    load = slice_named(data, 1, "load")
    steps = [
        (e["name"], e["ts"], e["dur"])
        for e in events_of(data, 1, "X")
        if e["cat"] == "load" and e["name"] != "load"
    ]
    assert steps == [
        ("resolve binary", 160, 452),
        ("import engine", 612, 106_977),
        ("start engine", 107_589, 3_489),
        ("load module", 111_078, 19_948),
    ]
    assert steps[0][1] == load["ts"] and steps[-1][1] + steps[-1][2] == load["ts"] + load["dur"]
    assert slice_named(data, 1, "start engine")["args"]["engine_version"] == "50.0.1"


def test_logs_memory_and_fuel_are_instants_and_fuel_is_a_counter() -> None:
    data = chrome([suppressed_logs_trace()])
    instants = events_of(data, 1, "i")
    logs = [e for e in instants if e["name"] == "log"]
    assert len(logs) == 1001  # 1,000 lines and the note of the 4,000 left out
    assert logs[0]["args"] == {"message": "tick", "line": 1, "bytes": 4}
    assert logs[-1]["args"]["suppressed"] == 4000
    assert [e["name"] for e in instants if e["cat"] == "memory"] == [
        "memory size_check",
        "memory write_input",
        "memory write_env",
    ]
    assert [e["name"] for e in instants if e["cat"] == "fuel"] == [
        "fuel limit set",
        "fuel checkpoint",
    ]
    assert [e["args"]["consumed"] for e in events_of(data, 1, "C")] == [0, 55_002]


def test_errors_are_instants_with_the_error_in_args() -> None:
    data = chrome([trap_trace()])
    (error,) = [e for e in events_of(data, 1, "i") if e["cat"] == "error"]
    assert error["name"] == "ExecutionError: trap"
    assert error["ts"] == 81_707
    assert error["args"]["error_kind"] == "trap"
    assert error["args"]["message"] == "Plugin trapped: integer divide by zero"
    assert error["args"]["backtrace"] == ["process @ 0x3b"]
    assert slice_named(data, 1, "process")["dur"] == 81_707 - 80_626
    # wasmtime cannot tell the fuel of a trapped run: the counter never makes one up.
    assert [e["args"]["consumed"] for e in events_of(data, 1, "C")] == [0]


def test_a_load_error_has_a_load_slice_and_no_later_phases() -> None:
    data = chrome([load_error_trace()])
    assert [e["name"] for e in events_of(data, 1, "X")] == ["run", "load"]
    load = slice_named(data, 1, "load")
    assert (load["ts"], load["dur"]) == (134, 479)
    assert load["args"]["error_kind"] == "load"
    errors = [e["name"] for e in events_of(data, 1, "i") if e["cat"] == "error"]
    assert errors == ["LoadError: load", "ExecutionError: load"]
    assert events_of(data, 1, "C") == []


def test_timeout_and_out_of_fuel_end_the_process_slice_at_the_error() -> None:
    data = chrome([timeout_trace(), out_of_fuel_trace()])
    assert slice_named(data, 1, "process")["dur"] == 1_107_025 - 107_105
    assert slice_named(data, 1, "run")["dur"] == 1_107_056
    assert [e["args"]["consumed"] for e in events_of(data, 2, "C")] == [0, 100_000]


def test_traces_line_up_on_one_timeline_by_start_time() -> None:
    traces = all_samples()  # newest first, a minute apart
    data = chrome(traces)
    starts = [slice_named(data, pid, "run")["ts"] for pid in range(1, len(traces) + 1)]
    assert starts == [60_000_000 * i for i in reversed(range(len(traces)))]
    assert data["otherData"]["timeline_origin"] == "2026-11-26T22:40:00.123456Z"


def test_every_event_type_has_a_category() -> None:
    assert {t.category for t in TraceEventType} == {
        "load",
        "execution",
        "function",
        "host",
        "memory",
        "fuel",
        "log",
        "error",
    }


def test_export_and_timespec_do_not_import_rich() -> None:
    code = (
        "import sys, wasmcli.tracing.export, wasmcli.tracing.timespec; "
        "assert 'rich' not in sys.modules, sorted(m for m in sys.modules if 'rich' in m)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
