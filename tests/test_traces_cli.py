"""Execution traces from the CLI: recorded for every run, listed, shown, exported, cleared."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import SAMPLES, plugin_wat
from .test_run_bad_input import BAD_MODULES

HELLO = str(SAMPLES / "hello.wasm")
FLOW = [
    "ExecutionStart",
    "LoadStart",
    "LoadComplete",  # binary read
    "LoadComplete",  # engine imported
    "LoadComplete",  # engine started
    "LoadComplete",  # module loaded
    "FuelCheckpoint",
    "HostFunctionCall",
    "FunctionCall",
    "MemoryOp",
    "MemoryOp",
    "MemoryOp",
    "FunctionCall",
    "PluginLog",
    "FuelCheckpoint",
    "ExecutionComplete",
]


def last_trace(cli) -> dict:
    return cli("traces", "show", "--last", "--json").json()


def test_a_run_records_the_documented_event_flow(cli) -> None:
    run = cli("run", HELLO, "--input", "world", "--json").json()
    trace = last_trace(cli)
    assert trace["trace_id"] == run["trace_id"]
    assert [e["event_type"] for e in trace["events"]] == FLOW
    assert trace["success"] is True and trace["error_kind"] is None
    assert (trace["return_code"], trace["return_code_name"]) == (0, "SUCCESS")
    assert trace["fuel_consumed"] == run["fuel_consumed"] > 0
    stamps = [e["timestamp"] for e in trace["events"]]
    assert stamps == sorted(stamps) and stamps[-1] <= trace["duration_us"]
    by_message = {e["message"]: e["metadata"] for e in trace["events"]}
    assert by_message["Input written"]["placement"] == "fresh_pages"
    assert by_message["Input written"]["bytes"] == 5
    assert (
        by_message["Input written"]["pages_after"]
        == by_message["Input written"]["pages_before"] + 1
    )
    assert by_message["Hello, world!"] == {"line": 1, "bytes": 13}
    assert by_message["Fuel consumed"]["fuel_remaining"] == 5_000_000_000 - run["fuel_consumed"]


def test_plugin_logs_are_stamped_when_logged(cli, wat_file) -> None:
    # Two log lines with a busy loop of ~10 ms between them: the gap shows in the stamps.
    source = plugin_wat(
        """(local $i i32)
        (call $log (i32.const 0) (i32.const 5))
        (loop $spin
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $spin (i32.lt_u (local.get $i) (i32.const 20000000))))
        (call $log (i32.const 0) (i32.const 5))
        (i32.const 0)""",
        extra='(data (i32.const 0) "tick!")',
    )
    cli("run", str(wat_file(source)))
    events = last_trace(cli)["events"]
    logs = [e["timestamp"] for e in events if e["event_type"] == "PluginLog"]
    call = next(e["timestamp"] for e in events if e["message"] == "Calling process")
    end = next(e["timestamp"] for e in events if e["message"] == "Fuel consumed")
    assert call < logs[0] < logs[1] < end
    assert logs[1] - logs[0] > 2_000  # the spin happened between them (> 2 ms)


def test_log_flood_keeps_a_bounded_number_of_events(cli, wat_file) -> None:
    # 200,000 one-byte lines fit under the output cap but must not make 200,000 events.
    source = plugin_wat(
        """(local $i i32)
        (loop $again
          (call $log (i32.const 0) (i32.const 1))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 200000))))
        (i32.const 0)""",
        extra='(data (i32.const 0) "x")',
    )
    # A generous time limit: 200,000 host calls take seconds on a busy machine.
    run = cli(
        "run", str(wat_file(source)), "--max-output", "1M", "--timeout-ms", "120000", "--json"
    ).json()
    assert run["output"].count("\n") == 199_999
    trace = last_trace(cli)
    logs = [e for e in trace["events"] if e["event_type"] == "PluginLog"]
    assert len(logs) == 1001
    assert logs[-1]["metadata"] == {"suppressed": 199_000, "suppressed_bytes": 199_000}
    assert "199,000 more log lines" in logs[-1]["message"]
    assert (trace["output_bytes"], trace["output_lines"]) == (399_999, 200_000)
    assert trace["output_bytes_cut"] == 199_000


@pytest.mark.parametrize("case", sorted(BAD_MODULES))
def test_every_failed_run_stores_its_trace(case: str, cli, wat_file) -> None:
    source, args, exit_code, _ = BAD_MODULES[case]
    cli("run", str(wat_file(source, case)), "--input", "hi", *args)
    trace = last_trace(cli)
    kind = {4: "abi", 7: "memory_limit", 8: "trap", 9: "io"}[exit_code]
    assert trace["success"] is False and trace["error_kind"] == kind
    error_events = [e for e in trace["events"] if e["event_type"] == "ExecutionError"]
    assert len(error_events) == 1 and error_events[0]["metadata"]["error_kind"] == kind
    assert trace["events"][-1]["event_type"] == "ExecutionError"


def test_load_failures_store_a_load_error(cli, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"garbage")
    for ref in (str(garbage), "not-registered"):
        cli("run", ref)
        trace = last_trace(cli)
        types = [e["event_type"] for e in trace["events"]]
        assert types == ["ExecutionStart", "LoadStart", "LoadError", "ExecutionError"]
        assert trace["error_kind"] == "load"


def test_timeout_and_fuel_failures_store_traces(cli, wat_file) -> None:
    loop = str(wat_file(plugin_wat("(loop $l (br $l)) (i32.const 0)")))
    cli("run", loop, "--fuel", "5000")
    assert last_trace(cli)["error_kind"] == "out_of_fuel"
    assert last_trace(cli)["fuel_consumed"] == 5000
    cli("run", loop, "--timeout-ms", "100", "--fuel", str(10**15))
    trace = last_trace(cli)
    assert trace["error_kind"] == "timeout" and trace["error_message"] == "Execution timeout"
    # Everything up to the call is there, on every engine (wasmer's come from its child).
    events = [(e["event_type"], e["message"]) for e in trace["events"]]
    assert ("FunctionCall", "Calling process") in events and events[-3][1] == "Calling process"
    assert [t for t, _ in events[-2:]] == ["FuelCheckpoint", "ExecutionError"]
    assert trace["fuel_consumed"] is None  # stopped mid-block: unknown, not a wrong number


def test_no_trace_and_env_switch_record_nothing(cli, monkeypatch) -> None:
    run = cli("run", HELLO, "--input", "x", "--no-trace", "--json").json()
    assert run["trace_id"] is None and run["output"] == "Hello, x!"
    monkeypatch.setenv("WASMCLI_TRACE", "0")
    cli("run", HELLO, "--input", "x")
    assert cli("traces", "list", "--json").json() == []


def test_retention_keeps_the_newest(cli, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_MAX_TRACES", "3")
    ids = [cli("run", HELLO, "--input", str(n), "--json").json()["trace_id"] for n in range(5)]
    listed = [t["trace_id"] for t in cli("traces", "list", "--json").json()]
    assert listed == ids[::-1][:3]


def test_list_filters(cli, wat_file) -> None:
    cli("register", HELLO, "--name", "hello")
    cli("run", "hello", "--input", "a")
    cli("run", str(wat_file(plugin_wat("unreachable"), "bad")))
    assert [t["binary_name"] for t in cli("traces", "list", "--json").json()] == ["bad", "hello"]
    assert [t["binary_name"] for t in cli("traces", "list", "--failed", "--json").json()] == ["bad"]
    assert [t["binary_name"] for t in cli("traces", "list", "--succeeded", "--json").json()] == [
        "hello"
    ]
    assert [
        t["binary_name"] for t in cli("traces", "list", "--binary", "hello", "--json").json()
    ] == ["hello"]
    assert [
        t["binary_name"] for t in cli("traces", "list", "--binary", "bad", "--json").json()
    ] == ["bad"]
    assert len(cli("traces", "list", "--since", "1h", "--json").json()) == 2
    assert cli("traces", "list", "--until", "2000-01-01", "--json").json() == []
    assert len(cli("traces", "list", "--limit", "1", "--json").json()) == 1
    bad = cli("traces", "list", "--since", "3x")
    assert bad.exit_code == 2 and "invalid time '3x'" in bad.stderr
    assert cli("traces", "list", "--failed", "--succeeded").exit_code == 2
    table = cli("traces", "list").stdout
    assert "hello" in table and "0 SUCCESS" in table


def test_show_by_prefix_and_renders_a_timeline(cli) -> None:
    trace_id = cli("run", HELLO, "--input", "world", "--json").json()["trace_id"]
    shown = cli("traces", "show", trace_id[:8])
    assert shown.exit_code == 0
    for text in (
        "hello",
        trace_id,
        "ExecutionStart",
        "Calling process",
        "Hello, world!",
        "SUCCESS",
    ):
        assert text in shown.stdout
    assert cli("traces", "show", "ffffffff").exit_code == 2
    assert cli("traces", "show").exit_code == 2


def test_run_with_trace_prints_timeline_on_stderr(cli) -> None:
    result = cli("run", HELLO, "--input", "world", "--trace")
    assert result.stdout == "Hello, world!\n"
    assert "ExecutionComplete" in result.stderr and "LoadComplete" in result.stderr


def test_failure_timeline_has_error_panel_with_backtrace(cli, wat_file) -> None:
    source = """(module (import "host" "log" (func $log (param i32 i32)))
      (memory (export "memory") 1)
      (func $inner (result i32) (i32.div_s (i32.const 1) (i32.const 0)))
      (func $process (export "process") (param i32 i32 i32 i32) (result i32) (call $inner)))"""
    cli("run", str(wat_file(source, "divider")))
    shown = cli("traces", "show", "--last").stdout
    assert "integer divide by zero" in shown
    assert "inner" in shown and "process" in shown  # the wasm backtrace, by function name


def test_export_formats(cli, tmp_path: Path) -> None:
    for n in range(2):
        cli("run", HELLO, "--input", str(n))
    as_json = json.loads(cli("traces", "export").stdout)
    assert len(as_json) == 2 and as_json[0]["events"][0]["event_type"] == "ExecutionStart"
    lines = cli("traces", "export", "--format", "jsonl", "--limit", "1").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["trace_id"] == as_json[0]["trace_id"]
    out = tmp_path / "perfetto.json"
    done = cli("traces", "export", "--format", "chrome", "--output", str(out))
    assert done.exit_code == 0 and "Exported 2 traces" in done.stderr
    chrome = json.loads(out.read_text())
    complete = [e for e in chrome["traceEvents"] if e["ph"] == "X"]
    assert {"process", "load"} <= {e["name"] for e in complete}
    assert cli("traces", "export", "--format", "csv").exit_code == 2


def test_clear_needs_yes_when_not_interactive(cli, wat_file) -> None:
    cli("run", HELLO, "--input", "a")
    cli("run", str(wat_file(plugin_wat("unreachable"))))
    refused = cli("traces", "clear")
    assert refused.exit_code == 2 and "without --yes" in refused.stderr
    cleared = cli("traces", "clear", "--failed", "--yes")
    assert cleared.exit_code == 0 and "Deleted 1 trace" in cleared.stderr
    assert [t["success"] for t in cli("traces", "list", "--json").json()] == [True]
    cli("traces", "clear", "--yes")
    assert cli("traces", "list", "--json").json() == []


def test_killed_run_leaves_the_database_intact(wasmcli_home: Path, wat_file) -> None:
    exe = Path(sys.executable).with_name("wasmcli")
    if not exe.exists():
        pytest.skip("wasmcli console script not installed")
    loop = wat_file(plugin_wat("(loop $l (br $l)) (i32.const 0)"))
    subprocess.run([str(exe), "run", HELLO, "--input", "before"], check=True, capture_output=True)
    proc = subprocess.Popen(
        [str(exe), "run", str(loop), "--timeout-ms", "20000", "--fuel", str(10**15)]
    )
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    conn = sqlite3.connect(wasmcli_home / "wasmcli.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    after = subprocess.run([str(exe), "traces", "list", "--json"], capture_output=True, check=True)
    assert len(json.loads(after.stdout)) == 1
