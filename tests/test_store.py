"""The registry, trace store and artifact cache: what users rely on across runs."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.blobs import sha256_hex
from wasmcli.store.cache import ArtifactCache, ArtifactHeader
from wasmcli.store.db import open_database
from wasmcli.store.migrations import MIGRATIONS
from wasmcli.store.registry import Registry, binary_id_for
from wasmcli.store.traces import TraceFilter, TraceStore
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

from .conftest import SAMPLES

HELLO = (SAMPLES / "hello.wasm").read_bytes()


def other_module(n: int) -> bytes:
    # A valid empty module with a custom section makes distinct bytes without an engine.
    name = f"m{n}".encode()
    payload = bytes([len(name)]) + name
    return b"\0asm\x01\0\0\0" + b"\x00" + bytes([len(payload)]) + payload


def test_register_is_content_addressed(wasmcli_home: Path) -> None:
    registry = Registry()
    first = registry.register(HELLO, name="hello")
    again = registry.register(HELLO, name="hello")
    assert first.created and not again.created
    assert first.record.id == again.record.id == binary_id_for(first.record.sha256)
    assert (wasmcli_home / "binaries" / f"{first.record.sha256}.wasm").read_bytes() == HELLO
    assert [r.id for r in registry.list()] == [first.record.id]


def test_a_name_held_by_another_binary_moves_only_with_force() -> None:
    registry = Registry()
    old = registry.register(other_module(1), name="tool").record
    with pytest.raises(WasmcliError) as caught:
        registry.register(other_module(2), name="tool")
    assert caught.value.kind is ErrorKind.USAGE
    assert f"belongs to binary {old.id[:8]} (tool)" in caught.value.message
    assert registry.find("tool").id == old.id
    assert len(registry.list()) == 1  # nothing stored for the refused one
    outcome = registry.register(other_module(2), name="tool", force=True)
    assert outcome.name_moved_from == old.id and outcome.name_added
    assert registry.find("tool").id == outcome.record.id
    assert registry.get(old.id).names == ()


def test_find_by_name_id_and_prefix() -> None:
    registry = Registry()
    record = registry.register(HELLO, name="hello").record
    assert registry.find("hello").id == record.id
    assert registry.find(record.id).id == record.id
    assert registry.find(record.id[:6]).id == record.id


def test_unknown_reference_is_a_load_error_in_the_original_words() -> None:
    with pytest.raises(WasmcliError) as caught:
        Registry().find("abc-123")
    assert caught.value.kind is ErrorKind.LOAD
    assert caught.value.message == "Failed to get binary: Binary not found: abc-123"


def test_an_unknown_id_is_a_load_error() -> None:
    with pytest.raises(WasmcliError) as caught:
        Registry().get("0" * 36)
    assert caught.value.kind is ErrorKind.LOAD
    assert caught.value.message == f"Failed to get binary: Binary not found: {'0' * 36}"


def test_a_damaged_registry_entry_is_one_line_naming_the_binary(wasmcli_home: Path) -> None:
    registry = Registry()
    record = registry.register(HELLO, name="hello").record
    registry.conn.execute("UPDATE binaries SET registered_at = 'last tuesday'")
    with pytest.raises(WasmcliError) as caught:
        registry.list()
    assert caught.value.kind is ErrorKind.IO
    assert caught.value.message.startswith(
        f"the registry entry of binary {record.id} is damaged ("
    ) and caught.value.message.endswith("); `wasmcli doctor` checks the home")


def test_removing_one_of_several_names_keeps_the_binary() -> None:
    # The library's default, as the CLI's: a name goes alone while the binary has others.
    registry = Registry()
    registry.register(HELLO, name="hello")
    record = registry.register(HELLO, name="greeter").record
    outcome = registry.remove("greeter")
    assert (outcome.binary_removed, outcome.names_left) == (False, ("hello",))
    assert registry.find(record.id).names == ("hello",)


def test_ambiguous_prefix_is_a_usage_error() -> None:
    # Ids are derived from content, so two modules whose ids share 4 characters can be
    # found deterministically.
    seen: dict[str, int] = {}
    for n in range(5000):
        prefix = binary_id_for(sha256_hex(other_module(n)))[:4]
        if prefix in seen:
            pair = (seen[prefix], n)
            break
        seen[prefix] = n
    registry = Registry()
    for n in pair:
        registry.register(other_module(n))
    with pytest.raises(WasmcliError) as caught:
        registry.find(prefix)
    assert caught.value.kind is ErrorKind.USAGE
    assert caught.value.message.startswith(f"Ambiguous binary id prefix '{prefix}'")


def test_remove_forgets_binary_and_file(wasmcli_home: Path) -> None:
    registry = Registry()
    record = registry.register(HELLO, name="hello").record
    registry.remove("hello")
    assert registry.list() == []
    assert not (wasmcli_home / "binaries" / f"{record.sha256}.wasm").exists()
    with pytest.raises(WasmcliError):
        registry.find("hello")


def test_damaged_blob_is_reported_not_run(wasmcli_home: Path) -> None:
    registry = Registry()
    record = registry.register(HELLO, name="hello").record
    (wasmcli_home / "binaries" / f"{record.sha256}.wasm").write_bytes(HELLO[:-3])
    with pytest.raises(WasmcliError) as caught:
        registry.resolve("hello")
    assert caught.value.kind is ErrorKind.LOAD
    assert caught.value.message == (
        "Failed to get binary: the stored file of hello is missing or damaged "
        f"({wasmcli_home / 'binaries' / f'{record.sha256}.wasm'}); register it again"
    )


@pytest.mark.parametrize("name", ["plugin.wasm", "plugin.WAT", "plugin.Wast", "-plugin", "a b"])
def test_a_name_that_looks_like_a_file_or_breaks_the_pattern_is_refused(name: str) -> None:
    with pytest.raises(WasmcliError) as caught:
        Registry().register(HELLO, name=name)
    assert caught.value.kind is ErrorKind.USAGE
    assert caught.value.message == (
        f"invalid name {name!r}: use letters, digits, '.', '_' or '-' (at most 64), starting "
        "with a letter or digit, without a .wasm/.wat suffix"
    )


def test_bytes_that_are_not_webassembly_are_refused() -> None:
    with pytest.raises(WasmcliError) as caught:
        Registry().register(b"#!/bin/sh\n", name="script")
    assert caught.value.kind is ErrorKind.LOAD
    assert caught.value.message == "not a WebAssembly module (bad magic bytes)"


def test_a_binary_is_registered_at_the_utc_time_whatever_the_time_zone(monkeypatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        before = datetime.now(timezone.utc)
        record = Registry().register(HELLO, name="hello").record
        after = datetime.now(timezone.utc)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert before <= record.registered_at <= after


def test_a_reference_resolves_to_the_registry_or_to_a_file(tmp_path: Path, monkeypatch) -> None:
    registry = Registry()
    record = registry.register(HELLO, name="hello").record
    resolved = registry.resolve("hello")
    assert (resolved.source, resolved.record, resolved.wasm) == ("registry", record, HELLO)
    # An extension-less file in the current folder runs too, when no name is taken.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "greeter").write_bytes(HELLO)
    by_file = registry.resolve("greeter")
    assert (by_file.source, by_file.name) == ("path", "hello")


def test_path_reference_gets_registered_name_and_id(tmp_path: Path) -> None:
    registry = Registry()
    record = registry.register(HELLO, name="greeter").record
    copy = tmp_path / "copy.wasm"
    copy.write_bytes(HELLO)
    resolved = registry.resolve(str(copy))
    assert (resolved.binary_id, resolved.name, resolved.source) == (record.id, "greeter", "path")


def test_migrations_are_recorded_and_idempotent(wasmcli_home: Path) -> None:
    conn = open_database(wasmcli_home)
    names = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    assert names == {m.__name__ for m in MIGRATIONS}
    conn.close()
    conn = open_database(wasmcli_home)  # opening again applies nothing twice
    assert conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failure_while_reading_rows_in_batches_is_one_line(wasmcli_home: Path) -> None:
    # Alert rules read traces a batch at a time (`fetchmany`): the batches are the size
    # asked for (the cursor's arraysize by default), and a failure in the middle of one
    # is the same one line (exit 9) as a failure anywhere else, not a traceback.
    conn = open_database(wasmcli_home)

    def checked(n: int) -> int:
        if n == 6:
            raise ValueError("unreadable row")
        return n

    conn.create_function("checked", 1, checked)
    cursor = conn.execute(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 9)"
        " SELECT checked(x) FROM n"
    )
    assert [row[0] for row in cursor.fetchmany()] == [1]
    cursor.arraysize = 2
    assert [row[0] for row in cursor.fetchmany()] == [2, 3]
    assert [row[0] for row in cursor.fetchmany(1)] == [4]
    with pytest.raises(WasmcliError) as caught:
        cursor.fetchmany(3)
    assert caught.value.kind is ErrorKind.IO
    assert caught.value.message == (
        f"the wasmcli database {wasmcli_home / 'wasmcli.db'} failed: "
        "user-defined function raised exception"
    )


def _names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM binary_names ORDER BY name")]


def test_a_database_opened_ahead_serves_one_request_of_the_same_file(
    wasmcli_home: Path, tmp_path: Path, monkeypatch
) -> None:
    # A daemon's process opens the home's database while it waits (`open_ahead`). The
    # next command takes that connection, once, and only while it is still the home's
    # database as it is now: `doctor --fix` may have moved the file aside, or the home
    # may have become read-only, since.
    from wasmcli.store import db

    Registry(wasmcli_home).register(HELLO, name="first")
    db.open_ahead(wasmcli_home)
    ahead = db._AHEAD[0] if db._AHEAD else None
    alias = tmp_path / "alias"
    alias.symlink_to(wasmcli_home)
    taken = open_database(alias)
    assert taken is ahead and taken.home == alias  # messages name the home as given
    again = open_database(wasmcli_home)
    assert again is not ahead and _names(again) == ["first"]

    # The file was moved aside (with its -wal and -shm) and another database put in its
    # place: that one is read.
    def move_aside() -> None:
        for suffix in ("", "-wal", "-shm"):
            name = f"wasmcli.db{suffix}"
            if (wasmcli_home / name).exists():
                (wasmcli_home / name).replace(tmp_path / f"aside{suffix}")

    other = Registry(tmp_path / "other")
    other.register(HELLO, name="second")
    other.close()
    db.open_ahead(wasmcli_home)
    move_aside()
    (tmp_path / "other" / "wasmcli.db").replace(wasmcli_home / "wasmcli.db")
    assert _names(open_database(wasmcli_home)) == ["second"]

    # The file is gone: a new, empty database.
    db.open_ahead(wasmcli_home)
    move_aside()
    assert _names(open_database(wasmcli_home)) == []

    # The home became read-only: opened read-only, as any command would.
    db.open_ahead(wasmcli_home)
    monkeypatch.setattr(db, "_is_read_only", lambda home: True)
    assert open_database(wasmcli_home).read_only is True


def test_a_failed_migration_leaves_the_database_as_it_was(wasmcli_home: Path, monkeypatch) -> None:
    # A migration that fails half-way (a full disk, a damaged page) is rolled back whole,
    # and the user reads the failure itself; the next opening tries it again.
    from wasmcli.store import migrations

    open_database(wasmcli_home).close()

    def m004_half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE m004_probe (x)")
        conn.execute("INSERT INTO m004_missing VALUES (1)")

    monkeypatch.setattr(migrations, "MIGRATIONS", (*MIGRATIONS, m004_half_done))
    with pytest.raises(WasmcliError) as caught:
        open_database(wasmcli_home)
    assert caught.value.message == (
        f"the wasmcli database {wasmcli_home / 'wasmcli.db'} failed: no such table: m004_missing"
    )
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    conn = open_database(wasmcli_home)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "m004_probe" not in tables
    assert "m004_half_done" not in {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def _register_many(args: tuple[str, int]) -> list[str]:
    home, worker = args
    registry = Registry(home)
    return [
        registry.register(other_module(worker * 100 + n), name=f"w{worker}-{n}").record.id
        for n in range(15)
    ]


def test_concurrent_processes_share_one_home(wasmcli_home: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.map(_register_many, [(str(wasmcli_home), w) for w in range(4)])
    assert len({i for ids in results for i in ids}) == 60
    assert len(Registry().list()) == 60


def make_trace(
    n: int, success: bool = True, binary: str = "b1", minutes_ago: int = 0
) -> ExecutionTrace:
    started = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc) - timedelta(minutes=minutes_ago)
    return ExecutionTrace(
        trace_id=f"{n:08x}-0000-4000-8000-000000000000",
        binary_id=binary,
        binary_name=f"name-{binary}",
        engine="wasmtime",
        started_at=started,
        duration_us=1000 + n,
        success=success,
        error_kind=None if success else "trap",
        error_message=None if success else "boom",
        return_code=0 if success else None,
        fuel_limit=100,
        fuel_consumed=n,
        events=(
            TraceEvent(0, TraceEventType.EXECUTION_START, binary, "Starting execution", {"n": n}),
        ),
    )


def test_trace_store_round_trip_and_retention() -> None:
    store = TraceStore(Registry().conn)
    for n in range(5):
        store.save(make_trace(n, minutes_ago=10 - n), max_traces=3)
    kept = store.list()
    assert [t.trace_id[:8] for t in kept] == ["00000004", "00000003", "00000002"]
    assert kept[0] == make_trace(4, minutes_ago=6)
    assert store.get("00000003").fuel_consumed == 3


def test_trace_filters() -> None:
    store = TraceStore(Registry().conn)
    store.save(make_trace(1, success=True, binary="a", minutes_ago=120), 100)
    store.save(make_trace(2, success=False, binary="a", minutes_ago=30), 100)
    store.save(make_trace(3, success=True, binary="b", minutes_ago=5), 100)
    ids = lambda q: [t.trace_id[:8] for t in store.list(q)]  # noqa: E731
    assert ids(TraceFilter(binary_id="a")) == ["00000002", "00000001"]
    assert ids(TraceFilter(success=False)) == ["00000002"]
    since = datetime(2026, 11, 26, 11, 0, tzinfo=timezone.utc)
    assert ids(TraceFilter(since=since)) == ["00000003", "00000002"]
    assert ids(TraceFilter(until=since)) == ["00000001"]
    assert ids(TraceFilter(limit=1)) == ["00000003"]
    assert ids(TraceFilter(binary_id="a", success=True, until=since)) == ["00000001"]
    assert store.delete(TraceFilter(binary_id="a")) == 2
    assert ids(None) == ["00000003"]


def test_a_batch_run_keeps_its_batch_and_the_latest_trace_is_the_newest() -> None:
    store = TraceStore(Registry().conn)
    assert store.latest() is None
    store.save(replace(make_trace(1, minutes_ago=5), batch_id="batch-7"), 100)
    store.save(make_trace(2), 100)
    assert [t.batch_id for t in store.list()] == [None, "batch-7"]
    assert store.get("00000001").batch_id == "batch-7"
    latest = store.latest()
    assert latest is not None and latest.trace_id.startswith("00000002")


@pytest.mark.parametrize(
    ("column", "value", "why"),
    [
        ("fuel_consumed", "'lots'", "TypeError: expected a number, found str"),
        ("engine", "x'00ff'", "TypeError: expected text, found bytes"),
    ],
)
def test_a_trace_row_damaged_to_another_type_is_named_with_what_was_found(
    wasmcli_home: Path, column: str, value: str, why: str
) -> None:
    registry = Registry()
    store = TraceStore(registry.conn)
    trace = make_trace(1)
    store.save(trace, 100)
    registry.conn.execute(f"UPDATE traces SET {column} = {value}")
    with pytest.raises(WasmcliError) as caught:
        store.get(trace.trace_id)
    assert caught.value.kind is ErrorKind.IO
    assert caught.value.message == (
        f"trace {trace.trace_id} is damaged in the database ({why}); `wasmcli doctor` "
        "checks the home, and `wasmcli doctor --fix` removes it"
    )


def test_saving_the_same_trace_twice_in_one_group_keeps_the_last() -> None:
    store = TraceStore(Registry().conn)
    first = make_trace(1)
    second = replace(first, fuel_consumed=99)
    assert store.save_many([first, second], 100) == {first.trace_id}
    assert [t.fuel_consumed for t in store.list()] == [99]


def test_events_are_stored_without_the_traces_binary_id_and_read_back_whole(
    wasmcli_home: Path,
) -> None:
    # docs/design.md: an event's binary_id is left out where it is the trace's.
    registry = Registry()
    store = TraceStore(registry.conn)
    trace = make_trace(1, binary="b1")
    other = TraceEvent(5, TraceEventType.HOST_FUNCTION_CALL, "b2", "from another binary", {})
    trace = replace(trace, events=(*trace.events, other))
    store.save(trace, 100)
    (events_json,) = registry.conn.execute("SELECT events_json FROM trace_events").fetchone()
    stored = json.loads(events_json)
    assert "binary_id" not in stored[0] and stored[1]["binary_id"] == "b2"
    assert store.get(trace.trace_id).events == trace.events


def test_a_traces_stored_size_counts_its_events_and_its_error(wasmcli_home: Path) -> None:
    registry = Registry()
    store = TraceStore(registry.conn)
    store.save(make_trace(1, success=False), 100)  # error message "boom"
    trace_bytes, events_json, message = registry.conn.execute(
        "SELECT trace_bytes, events_json, error_message FROM traces JOIN trace_events USING (seq)"
    ).fetchone()
    assert message == "boom"
    assert trace_bytes == len(events_json.encode()) + len(b"boom")
    assert store.totals() == (1, trace_bytes)


def test_retention_keeps_the_newest_within_the_byte_budget_exactly() -> None:
    store = TraceStore(Registry().conn)
    for n in (1, 2, 3):
        store.save(make_trace(n, minutes_ago=10 - n), 100)
    size = store.totals()[1] // 3  # the traces are the same size
    store.save(make_trace(4, minutes_ago=6), 100, max_bytes=3 * size)  # exactly full
    assert [t.fuel_consumed for t in store.list()] == [4, 3, 2]
    store.save(make_trace(5, minutes_ago=5), 100, max_bytes=2 * size - 1)  # one byte short
    assert [t.fuel_consumed for t in store.list()] == [5]
    assert store.save(make_trace(6), 0) is False  # 0 keeps none
    assert store.list() == []


def test_trace_prefix_lookup_errors() -> None:
    store = TraceStore(Registry().conn)
    store.save(make_trace(0x11), 100)
    store.save(make_trace(0x12), 100)
    with pytest.raises(WasmcliError, match="Ambiguous"):
        store.get("000000")
    with pytest.raises(WasmcliError, match="No trace matches"):
        store.get("ffff")
    assert store.get("00000011").trace_id.startswith("00000011")


def test_an_ambiguous_trace_prefix_lists_each_candidate_in_one_line() -> None:
    store = TraceStore(Registry().conn)
    store.save(make_trace(0x11), 100)
    nameless = replace(make_trace(0x12, minutes_ago=90), binary_name=None)  # run by path
    store.save(nameless, 100)
    with pytest.raises(WasmcliError) as caught:
        store.get("000000")
    assert caught.value.kind is ErrorKind.USAGE
    assert caught.value.message == (
        "Ambiguous trace id prefix '000000': matches "
        "00000011-0000 (name-b1, 2026-11-26 12:00:00), "
        "00000012-0000 (unknown binary, 2026-11-26 10:30:00); type more of the id"
    )


def test_trace_references_are_read_without_regard_to_case() -> None:
    store = TraceStore(Registry().conn)
    trace = make_trace(0xABCDEF12)
    store.save(trace, 100)
    assert store.get(trace.trace_id.upper()).trace_id == trace.trace_id
    assert store.get("ABCDEF").trace_id == trace.trace_id
    assert store.resolve_ids(["ABCDEF12"]) == [trace.trace_id]
    with pytest.raises(WasmcliError) as caught:
        store.get("FFFF")
    assert caught.value.message == "No trace matches 'ffff'"
    with pytest.raises(WasmcliError) as caught:
        store.get("abc")  # it matches, but a prefix needs 4 characters
    assert (
        caught.value.message == "No trace matches 'abc' (an id prefix needs at least 4 characters)"
    )


def test_counting_and_deleting_follow_the_filter() -> None:
    store = TraceStore(Registry().conn)
    for n in range(6):
        store.save(make_trace(n, binary="b1" if n % 2 else "b2", minutes_ago=10 - n), 100)
    assert store.count() == 6
    assert store.count(TraceFilter(binary_id="b1")) == 3
    assert store.count(TraceFilter(binary_id="b1", limit=1)) == 3  # the limit aside
    assert store.delete(TraceFilter(binary_id="b2", limit=2)) == 2  # the newest two
    assert sorted(t.fuel_consumed for t in store.list()) == [0, 1, 3, 5]
    assert store.delete(TraceFilter(limit=1)) == 1
    assert sorted(t.fuel_consumed for t in store.list()) == [0, 1, 3]


def test_text_that_is_not_utf8_is_stored_with_replacement_characters() -> None:
    # Names from the file system or the command line may hold bytes that are not UTF-8
    # (lone surrogates in Python): the store keeps the rest of the text, never fails.
    bad = "h\udcffllo"
    registry = Registry()
    record = registry.register(HELLO, name="hello", source_path=f"/tmp/{bad}.wasm").record
    assert record.source_path == "/tmp/h\ufffdllo.wasm"
    named = registry.conn.execute("SELECT :text", {"text": bad}).fetchone()[0]
    assert named == "h\ufffdllo"  # named parameters too
    store = TraceStore(registry.conn)
    trace = replace(make_trace(1), binary_name=bad, error_message=f"cannot read {bad}")
    assert store.save(trace, 100)
    [stored] = store.list()
    assert (stored.binary_name, stored.error_message) == ("h\ufffdllo", "cannot read h\ufffdllo")


CONFIG = "engine 1.0 fuel=1"
PAYLOAD = b"compiled code" * 100


def stored_artifact(home: Path, module: bytes = HELLO) -> tuple[ArtifactCache, str, Path]:
    cache = ArtifactCache(home, "engine-1.0")
    digest = sha256_hex(module)
    cache.store(digest, CONFIG, PAYLOAD)
    assert cache.load(digest, CONFIG) == PAYLOAD
    return cache, digest, cache.path(digest, CONFIG)


def test_the_registrys_artifact_cache_is_the_homes_cache_for_that_engine(
    wasmcli_home: Path,
) -> None:
    # The daemon warms the cache through the registry: runs must find what it stored.
    digest = sha256_hex(HELLO)
    Registry().artifact_cache("engine-1.0").store(digest, CONFIG, PAYLOAD)
    assert ArtifactCache(wasmcli_home, "engine-1.0").load(digest, CONFIG) == PAYLOAD
    assert ArtifactCache(wasmcli_home, "engine-2.0").load(digest, CONFIG) is None


def test_artifact_cache_rejects_a_truncated_file(wasmcli_home: Path) -> None:
    cache, digest, path = stored_artifact(wasmcli_home)
    path.write_bytes(path.read_bytes()[:-10])  # as after a crash mid-copy
    assert cache.load(digest, CONFIG) is None
    assert not path.exists()


def test_artifact_cache_rejects_flipped_bytes(wasmcli_home: Path) -> None:
    cache, digest, path = stored_artifact(wasmcli_home)
    raw = bytearray(path.read_bytes())
    raw[-7] ^= 0x01  # same length, one bit different
    path.write_bytes(bytes(raw))
    assert cache.load(digest, CONFIG) is None
    assert not path.exists()


def test_two_runs_finding_the_same_damaged_artifact_both_recompile(
    wasmcli_home: Path, monkeypatch
) -> None:
    # Runs in parallel may read the same damaged artifact at once: the first to notice
    # removes it, and the other, finding it gone, must still just recompile.
    cache, digest, path = stored_artifact(wasmcli_home)
    raw = bytearray(path.read_bytes())
    raw[-7] ^= 0x01
    path.write_bytes(bytes(raw))
    read = ArtifactCache._read_trusted

    def read_then_lose_the_race(self: ArtifactCache, file: Path) -> bytes | None:
        data = read(self, file)
        file.unlink()  # the other run removed it meanwhile
        return data

    monkeypatch.setattr(ArtifactCache, "_read_trusted", read_then_lose_the_race)
    assert cache.load(digest, CONFIG) is None


def test_artifact_cache_rejects_a_swapped_artifact(wasmcli_home: Path) -> None:
    # Another module's intact artifact copied under this module's name.
    cache, digest, path = stored_artifact(wasmcli_home)
    other = other_module(1)
    cache.store(sha256_hex(other), CONFIG, b"other code")
    path.write_bytes(cache.path(sha256_hex(other), CONFIG).read_bytes())
    assert cache.load(digest, CONFIG) is None
    assert cache.load(sha256_hex(other), CONFIG) == b"other code"


def test_artifact_cache_rejects_another_engine_configuration(wasmcli_home: Path) -> None:
    # A stale artifact: the right module, intact, but another engine version or setting.
    cache, digest, path = stored_artifact(wasmcli_home)
    for config in ("engine 0.9 fuel=1", "engine 1.0 fuel=1 memory=64"):
        stale = ArtifactHeader(digest, config, sha256_hex(PAYLOAD), len(PAYLOAD))
        path.write_bytes(stale.encode() + PAYLOAD)
        assert cache.load(digest, CONFIG) is None


def test_artifact_cache_rejects_files_others_could_write(wasmcli_home: Path) -> None:
    cache, digest, path = stored_artifact(wasmcli_home)
    path.chmod(0o664)
    assert cache.load(digest, CONFIG) is None
    path.chmod(0o600)
    assert cache.load(digest, CONFIG) == PAYLOAD
    cache.root.chmod(0o757)
    assert cache.load(digest, CONFIG) is None


def test_cache_files_are_private(wasmcli_home: Path) -> None:
    cache, _, path = stored_artifact(wasmcli_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.root.stat().st_mode) == 0o700


# -- a writer killed while it saves a trace --------------------------------------------

# Runs `wasmcli run` in a fresh interpreter that kills itself (SIGKILL, as `kill -9`)
# just before the Nth SQL statement of TraceStore.save: the save is cut at every point.
KILL_DURING_SAVE = """
import os, signal, sys
from wasmcli.store import traces

kill_at = int(sys.argv[1])
original_save = traces.TraceStore.save

def save(self, *args, **kwargs):
    statements = 0

    def before_statement(sql):
        nonlocal statements
        statements += 1
        if statements == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    self.conn.set_trace_callback(before_statement)
    return original_save(self, *args, **kwargs)

traces.TraceStore.save = save
from wasmcli.cli.app import app
app(["run", sys.argv[2], "--input", "killed", "--engine", "wasmtime"])
"""


def test_killing_wasmcli_during_a_trace_save_never_leaves_half_a_trace(
    wasmcli_home: Path,
) -> None:
    Registry().register(HELLO, name="hello")
    import subprocess
    import sys

    from .conftest import SAMPLES as samples

    hello = str(samples / "hello.wasm")
    subprocess.run(
        [sys.executable, "-c", KILL_DURING_SAVE, "0", hello], check=True, capture_output=True
    )
    killed_at = []
    for kill_at in range(1, 40):
        done = subprocess.run(
            [sys.executable, "-c", KILL_DURING_SAVE, str(kill_at), hello], capture_output=True
        )
        if done.returncode == 0:
            break  # the save has fewer statements than this: it completed
        assert done.returncode == -9, done.stderr
        killed_at.append(kill_at)
        conn = sqlite3.connect(wasmcli_home / "wasmcli.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            count, stored = conn.execute(
                "SELECT count(*), coalesce(sum(trace_bytes), 0) FROM traces"
            ).fetchone()
            assert conn.execute("SELECT count, bytes FROM trace_totals").fetchone() == (
                count,
                stored,
            )
            orphans = conn.execute(
                "SELECT count(*) FROM traces LEFT JOIN trace_events USING (seq)"
                " WHERE trace_events.seq IS NULL"
            ).fetchone()[0]
            assert orphans == 0, f"a trace without its events after a kill at {kill_at}"
            assert conn.execute("SELECT count(*) FROM trace_events").fetchone()[0] == count
        finally:
            conn.close()
    assert len(killed_at) >= 4  # the save was cut at each of its statements
    traces = TraceStore(Registry().conn).list()
    assert len(traces) == 2 and all(t.events for t in traces)  # the first and the last run
