"""Traces on disk: bounded in size, kept by count and by bytes, listed without their
events, found by indexed queries, and migrated from the first schema."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wasmcli.store.db import open_database
from wasmcli.store.migrations import m001_initial
from wasmcli.store.registry import Registry
from wasmcli.store.traces import TraceFilter, TraceStore
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType
from wasmcli.tracing.recorder import MAX_TEXT_BYTES, MAX_TRACE_OUTPUT_BYTES, TraceRecorder

from .conftest import SAMPLES, plugin_wat
from .home_tools import error_lines, read_only_runner, run_wasmcli

HELLO = str(SAMPLES / "hello.wasm")


def last_trace(cli) -> dict:
    return cli("traces", "show", "--last", "--json").json()


def logging_plugin(lines: int, line_bytes: int) -> str:
    """A plugin that logs `lines` lines of `line_bytes` bytes ('x's) each."""
    return plugin_wat(
        f"""(local $i i32)
        (memory.fill (i32.const 0) (i32.const 120) (i32.const {line_bytes}))
        (loop $again
          (call $log (i32.const 0) (i32.const {line_bytes}))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const {lines}))))
        (i32.const 0)""",
        memory='(memory (export "memory") 256)',
    )


# -- a trace has a bounded size ------------------------------------------------------


def test_ten_megabytes_of_output_store_a_trace_of_bounded_size(
    cli, wat_file, wasmcli_home: Path
) -> None:
    # 160 lines of 64 KiB: the output is whole, the trace keeps 64 KiB of it.
    line = 64 * 1024
    run = cli(
        "run", str(wat_file(logging_plugin(160, line))), "--max-output", "20M", "--json"
    ).json()
    assert len(run["output"]) == 160 * line + 159
    trace = last_trace(cli)
    logs = [e for e in trace["events"] if e["event_type"] == "PluginLog"]
    kept = sum(len(e["message"].encode()) for e in logs if "suppressed" not in e["metadata"])
    assert kept == MAX_TRACE_OUTPUT_BYTES
    assert logs[-1]["metadata"] == {"suppressed": 159, "suppressed_bytes": 159 * line}
    assert trace["output_bytes"] == 160 * line + 159
    assert trace["output_bytes_cut"] == 159 * line
    with sqlite3.connect(wasmcli_home / "wasmcli.db") as conn:
        stored = conn.execute("SELECT trace_bytes FROM traces").fetchone()[0]
    assert MAX_TRACE_OUTPUT_BYTES < stored < MAX_TRACE_OUTPUT_BYTES + 8 * 1024


def test_a_line_that_crosses_the_bound_is_cut_and_says_so(cli, wat_file) -> None:
    cli("run", str(wat_file(logging_plugin(1, 100_000))), "--json")
    trace = last_trace(cli)
    [log] = [e for e in trace["events"] if e["event_type"] == "PluginLog"]
    assert len(log["message"]) == MAX_TRACE_OUTPUT_BYTES
    assert log["metadata"] == {
        "line": 1,
        "bytes": 100_000,
        "cut_bytes": 100_000 - MAX_TRACE_OUTPUT_BYTES,
    }
    assert (trace["output_bytes"], trace["output_bytes_cut"]) == (
        100_000,
        100_000 - MAX_TRACE_OUTPUT_BYTES,
    )


def test_plugin_text_in_an_error_message_is_bounded(cli, wat_file) -> None:
    # An import name is the plugin's to choose: 90 KB of it must not make 90 KB
    # of trace.
    name = "n" * 90_000  # wasmtime reads names up to 100,000 bytes
    path = wat_file(f'(module (import "host" "{name}" (func)) (memory (export "memory") 1))')
    assert cli("run", str(path), "--quiet").exit_code == 4
    trace = last_trace(cli)
    assert len(trace["error_message"].encode()) < 5 * 1024
    assert all(len(e["message"].encode()) < 5 * 1024 for e in trace["events"])


def test_every_text_an_event_carries_is_bounded() -> None:
    # Export and import names reach event metadata as texts and lists of texts.
    recorder = TraceRecorder()
    long_name = "é" * 5_000  # 10,000 bytes
    recorder.record(
        TraceEventType.LOAD_COMPLETE,
        "x" * 10_000,
        exports=["memory", long_name],
        name=long_name,
        pages=3,
    )
    recorder.record(TraceEventType.LOAD_COMPLETE, "short", name="hello", pages=1)
    long_event, short_event = recorder.events
    assert len(long_event.message.encode()) < MAX_TEXT_BYTES + 64
    assert long_event.message.endswith("more bytes not kept)")
    assert long_event.metadata["exports"][0] == "memory"
    assert len(long_event.metadata["exports"][1].encode()) < MAX_TEXT_BYTES + 64
    assert len(long_event.metadata["name"].encode()) < MAX_TEXT_BYTES + 64
    assert long_event.metadata["pages"] == 3
    assert (short_event.message, short_event.metadata) == ("short", {"name": "hello", "pages": 1})


# -- retention -----------------------------------------------------------------------


def make_trace(n: int, size: int = 100, minutes_ago: int = 0) -> ExecutionTrace:
    started = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc) - timedelta(minutes=minutes_ago)
    return ExecutionTrace(
        trace_id=f"{n:08x}-0000-4000-8000-000000000000",
        binary_id="b1",
        binary_name="name-b1",
        engine="wasmtime",
        started_at=started,
        duration_us=1000 + n,
        success=True,
        error_kind=None,
        error_message=None,
        return_code=0,
        fuel_limit=100,
        fuel_consumed=n,
        events=(TraceEvent(0, TraceEventType.PLUGIN_LOG, "b1", "x" * size, {}),),
    )


def test_retention_by_bytes_drops_the_oldest_first() -> None:
    store = TraceStore(Registry().conn)
    assert store.save(make_trace(0), max_traces=100)
    one = store.totals()[1]  # the bytes one of these traces takes, as stored
    store.delete()
    for n in range(10):
        assert store.save(make_trace(n, minutes_ago=100 - n), max_traces=100, max_bytes=one * 4)
    assert [t.trace_id[:8] for t in store.list()] == [f"{n:08x}" for n in (9, 8, 7, 6)]
    assert store.totals() == (4, 4 * one)
    # A trace larger than the whole budget is not kept, and save says so.
    assert not store.save(make_trace(99, size=10 * one), max_traces=100, max_bytes=one * 4)
    assert store.count() == 0


def test_max_trace_bytes_variable_applies_to_runs(cli, monkeypatch) -> None:
    for n in range(3):
        cli("run", HELLO, "--input", f"run{n}")
    sizes = cli("traces", "list", "--json").json()
    assert len(sizes) == 3
    monkeypatch.setenv("WASMCLI_MAX_TRACE_BYTES", "6K")  # two hello traces, not three
    cli("run", HELLO, "--input", "last")
    kept = cli("traces", "list", "--json").json()
    assert 1 <= len(kept) < 4 and kept[0]["started_at"] >= sizes[0]["started_at"]
    monkeypatch.setenv("WASMCLI_MAX_TRACE_BYTES", "lots")
    bad = cli("run", HELLO, "--input", "x")
    assert bad.exit_code == 2 and "WASMCLI_MAX_TRACE_BYTES" in bad.stderr


def test_retention_by_count_keeps_the_newest_and_the_totals_right() -> None:
    store = TraceStore(Registry().conn)
    for n in range(20):
        store.save(make_trace(n, minutes_ago=100 - n), max_traces=5)
    assert [t.trace_id[:8] for t in store.list()] == [f"{n:08x}" for n in range(19, 14, -1)]
    count, stored = store.conn.execute("SELECT count(*), sum(trace_bytes) FROM traces").fetchone()
    assert store.totals() == (count, stored) == (5, stored)
    assert store.conn.execute("SELECT count(*) FROM trace_events").fetchone()[0] == 5


# -- listing reads summaries only, through indexes ------------------------------------


def test_listing_never_reads_event_bodies(cli, wasmcli_home: Path) -> None:
    cli("run", HELLO, "--input", "a")
    cli("run", HELLO, "--input", "b")
    newest = cli("traces", "list", "--json").json()[0]["trace_id"]
    with sqlite3.connect(wasmcli_home / "wasmcli.db") as conn:
        conn.execute("UPDATE trace_events SET events_json = 'not json'")
    listed = cli("traces", "list")
    assert listed.exit_code == 0 and newest[:8] in listed.stdout
    assert cli("traces", "list", "--json", "--failed").exit_code == 0
    shown = cli("traces", "show", newest)
    assert shown.exit_code == 9
    assert error_lines(shown.stderr)[0].startswith(f"error: trace {newest} is damaged")


@pytest.mark.parametrize(
    "query",
    [
        TraceFilter(limit=50),
        TraceFilter(binary_id="b", limit=50),
        TraceFilter(binary_name="n", limit=50),
        TraceFilter(success=False, limit=50),
        TraceFilter(batch_id="x", limit=50),
        TraceFilter(since=datetime(2026, 1, 1, tzinfo=timezone.utc), limit=50),
    ],
)
def test_every_filter_is_an_indexed_query(query: TraceFilter) -> None:
    conn = Registry().conn
    where, params = query.where()
    for sql in (
        "SELECT seq FROM traces" + where + " ORDER BY started_at DESC, seq DESC LIMIT 50",
        "SELECT count(*) FROM traces" + where,
    ):
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "USING" in plan and "INDEX" in plan, plan
        assert "TEMP B-TREE" not in plan, plan  # no sort of the whole table


def test_list_shows_the_newest_page_and_says_how_many_more(cli) -> None:
    store = TraceStore(Registry().conn)
    for n in range(60):
        store.save(make_trace(n, minutes_ago=100 - n), max_traces=1000)
    listed = cli("traces", "list")
    assert listed.stdout.count("name-b1") == 50
    assert f"{59:08x}" in listed.stdout and f"{9:08x}" not in listed.stdout
    assert listed.stderr == "10 older traces not shown: --limit N shows more, --limit 0 all\n"
    everything = cli("traces", "list", "--limit", "0", "--json")
    assert len(everything.json()) == 60 and everything.stderr == ""
    assert len(cli("traces", "list", "--limit", "55", "--json").json()) == 55
    page = cli("traces", "list", "--json")
    assert len(page.json()) == 50 and "10 older traces" in page.stderr


# -- traces clear ID... --------------------------------------------------------------


def test_clear_given_ids(cli) -> None:
    store = TraceStore(Registry().conn)
    for n in range(4):
        store.save(make_trace(0x1000 + n), max_traces=100)
    ids = [t["trace_id"] for t in cli("traces", "list", "--json").json()]
    cleared = cli("traces", "clear", ids[0], ids[2][:8], "--yes")
    assert cleared.exit_code == 0 and cleared.stderr == "Deleted 2 traces.\n"
    assert [t["trace_id"] for t in cli("traces", "list", "--json").json()] == [ids[1], ids[3]]
    unknown = cli("traces", "clear", ids[1], "ffffffff", "--yes")
    assert unknown.exit_code == 2 and "No trace matches 'ffffffff'" in unknown.stderr
    assert len(cli("traces", "list", "--json").json()) == 2  # nothing deleted
    both = cli("traces", "clear", ids[1], "--failed", "--yes")
    assert both.exit_code == 2 and "not both" in both.stderr
    ambiguous = cli("traces", "clear", "0000", "--yes")
    assert ambiguous.exit_code == 2 and "Ambiguous trace id prefix '0000'" in ambiguous.stderr


def test_clear_asks_before_deleting_given_ids(cli) -> None:
    store = TraceStore(Registry().conn)
    store.save(make_trace(1), max_traces=100)
    refused = cli("traces", "clear", f"{1:08x}")
    assert refused.exit_code == 2 and "without --yes" in refused.stderr
    assert len(cli("traces", "list", "--json").json()) == 1


# -- migrating the first schema ------------------------------------------------------


def test_traces_of_the_first_schema_are_migrated(wasmcli_home: Path) -> None:
    wasmcli_home.mkdir(parents=True)
    conn = sqlite3.connect(wasmcli_home / "wasmcli.db", isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    m001_initial(conn)
    conn.execute("INSERT INTO _migrations VALUES ('m001_initial', '2026-11-01T00:00:00Z')")
    events = json.dumps([make_trace(1).events[0].to_dict()])
    for n, started in ((1, "2026-11-26T10:00:00.000000Z"), (2, "2026-11-26T11:00:00.000000Z")):
        conn.execute(
            "INSERT INTO traces (trace_id, binary_id, binary_name, engine, started_at,"
            " duration_us, success, error_kind, error_message, return_code, fuel_limit,"
            " fuel_consumed, event_count, events_json)"
            " VALUES (?, 'b1', 'old', 'wasmtime', ?, 5, 1, NULL, NULL, 0, 10, 3, 1, ?)",
            (f"{n:08x}-0000-4000-8000-000000000000", started, events),
        )
    conn.close()
    store = TraceStore(open_database(wasmcli_home))
    migrated = store.list()
    assert [t.trace_id[:8] for t in migrated] == ["00000002", "00000001"]
    assert migrated[0].events == make_trace(1).events
    assert migrated[0].output_bytes is None  # not recorded before: unknown, not zero
    assert store.totals() == (2, 2 * len(events))
    store.save(make_trace(3), max_traces=2)  # retention works on migrated rows
    assert [t.trace_id[:8] for t in store.list()] == ["00000003", "00000002"]


# -- a read-only home still serves the read-only commands ----------------------------


def test_a_read_only_home_serves_read_only_commands(tmp_path: Path) -> None:
    home = tmp_path / "image"
    assert run_wasmcli("--home", str(home), "register", HELLO).returncode == 0
    done = run_wasmcli("--home", str(home), "run", "hello", "-i", "x", "--json")
    trace_id = json.loads(done.stdout)["trace_id"]
    ro = read_only_runner(home)
    for args in (
        ("list",),
        ("inspect", "hello"),
        ("traces", "list"),
        ("traces", "show", trace_id),
        ("traces", "show", "--last"),
        ("traces", "export", "--format", "jsonl"),
    ):
        result = ro(*args)
        assert result.returncode == 0, (args, result.stderr)
    assert trace_id in ro("traces", "export").stdout
    run = ro("run", "hello", "-i", "ro", "--no-trace")
    assert (run.returncode, run.stdout) == (0, "Hello, ro!\n"), run.stderr
    refused = ro("register", str(SAMPLES / "counter.wasm"))
    assert refused.returncode == 9
    assert error_lines(refused.stderr) == [
        f"error: the wasmcli home {home} is read-only: this command needs to write to it"
    ]
    traced = ro("run", "hello", "-i", "t")  # the run happens; only its trace is lost
    assert traced.returncode == 0 and traced.stdout == "Hello, t!\n"
    assert "read-only" in traced.stderr


@pytest.mark.parametrize("wal", ["written", "empty"])
def test_a_read_only_image_of_a_home_in_use_is_read_with_its_wal(tmp_path: Path, wal: str) -> None:
    # An image taken while a wasmcli process had the home open holds the last writes in
    # wasmcli.db-wal (with -shm): those are read too. An empty -wal is nothing to read.
    home = tmp_path / "live"
    assert run_wasmcli("--home", str(home), "register", HELLO).returncode == 0
    writer = sqlite3.connect(home / "wasmcli.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("UPDATE binary_names SET name = 'renamed'")
    image = tmp_path / "image"
    shutil.copytree(home, image)
    writer.close()
    if wal == "written":
        assert (image / "wasmcli.db-wal").stat().st_size > 0
    else:
        (image / "wasmcli.db").write_bytes((home / "wasmcli.db").read_bytes())
        (image / "wasmcli.db-wal").write_bytes(b"")
        (image / "wasmcli.db-shm").unlink()
    listed = read_only_runner(image)("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [b["name"] for b in json.loads(listed.stdout)] == ["renamed"]


def test_a_read_only_home_at_an_older_schema_says_to_open_it_once_writable(
    tmp_path: Path,
) -> None:
    # A read-only copy of a home made by an older wasmcli cannot be migrated: each command
    # says so in one line (exit 9) instead of failing query by query.
    home = tmp_path / "old-image"
    home.mkdir()
    conn = sqlite3.connect(home / "wasmcli.db", isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    m001_initial(conn)
    conn.execute("INSERT INTO _migrations VALUES ('m001_initial', '2026-11-01T00:00:00Z')")
    conn.close()
    ro = read_only_runner(home)
    for args in (("list",), ("traces", "list")):
        refused = ro(*args)
        assert refused.returncode == 9, (args, refused.stderr)
        assert error_lines(refused.stderr) == [
            f"error: the wasmcli home {home} is read-only and its database is not at this "
            "version's schema (pending: m002_trace_summaries, m003_alert_state): open it "
            "once with write access"
        ]
