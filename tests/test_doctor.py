"""`wasmcli doctor`: it finds what is wrong with a home, and `--fix` repairs it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path

from .conftest import SAMPLES
from .home_tools import artifacts, error_lines, module_sha, run_wasmcli

HELLO = str(SAMPLES / "hello.wasm")
COUNTER = str(SAMPLES / "counter.wasm")


def snapshot(home: Path) -> dict[str, str]:
    return {
        str(path.relative_to(home)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.rglob("*"))
        if path.is_file() and not path.name.endswith("-shm")  # SQLite's index of its WAL
    }


def checkpoint(home: Path) -> None:
    with sqlite3.connect(home / "wasmcli.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def test_a_healthy_home_exits_0(cli, wasmcli_home: Path) -> None:
    assert cli("doctor").exit_code == 0  # no home yet: nothing wrong
    cli("register", HELLO)
    cli("run", "hello", "--input", "x")
    result = cli("doctor")
    assert result.exit_code == 0, result
    assert result.stdout.splitlines()[1:] == [
        "checked  1 database, 1 registered binary, 1 trace, 1 compiled artifact",
        "verdict  healthy",
    ]
    report = cli("doctor", "--json").json()
    assert report["healthy"] is True and report["problems"] == []
    assert report["checked"]["artifacts"] == 1


def test_doctor_finds_each_problem_and_fix_repairs_them(cli, wasmcli_home: Path) -> None:
    cli("register", HELLO)
    counter_id = cli("register", COUNTER).stdout.strip()
    cli("run", "hello", "--input", "x")
    cli("run", COUNTER, "--input", "y")
    cache = artifacts(wasmcli_home)
    hello_artifact, counter_artifact = cache[module_sha(HELLO)], cache[module_sha(COUNTER)]
    # A swapped artifact, a module file gone, an orphan module file, a cache folder
    # others can write, a temporary file of a killed writer, totals that lie, and events
    # left behind by a delete that bypassed the foreign key.
    shutil.copyfile(hello_artifact, counter_artifact)
    (wasmcli_home / "binaries" / f"{module_sha(COUNTER)}.wasm").unlink()
    orphan = wasmcli_home / "binaries" / f"{'0' * 64}.wasm"
    orphan.write_bytes(b"\0asm\x01\0\0\0")
    hello_artifact.parent.chmod(0o777)
    leftover = hello_artifact.parent / ".abc.bin.123.tmp"
    leftover.write_bytes(b"half")
    os.utime(leftover, (time.time() - 3600, time.time() - 3600))
    checkpoint(wasmcli_home)
    with sqlite3.connect(wasmcli_home / "wasmcli.db") as conn:
        conn.execute("DELETE FROM traces WHERE binary_name = 'counter'")  # foreign keys off
        conn.execute("UPDATE trace_totals SET count = 99")

    before = snapshot(wasmcli_home)
    report = cli("doctor", "--json")
    assert report.exit_code == 9
    assert snapshot(wasmcli_home) == before  # without --fix nothing is touched
    problems = {(p["check"], p["problem"].split(":")[0]) for p in report.json()["problems"]}
    assert {check for check, _ in problems} == {"folders", "binaries", "traces", "cache"}
    texts = " | ".join(p["problem"] for p in report.json()["problems"])
    for expected in (
        f"binary {counter_id[:8]} (counter): its file",
        "is gone",
        f"{orphan} is not a registered module",
        "is writable by other users (mode 0777)",
        "1 events row without its trace",
        "the trace totals say (99,",
        "was compiled from another module or configuration than its name says (swapped)",
        "was left by a killed writer",
    ):
        assert expected in texts, texts
    text = cli("doctor")
    assert text.exit_code == 9
    assert error_lines(text.stderr) == [
        f"error: the wasmcli home {wasmcli_home} has 7 problems: `wasmcli doctor --fix` "
        "repairs them"
    ]

    fixed = cli("doctor", "--fix")
    assert fixed.exit_code == 0, fixed
    assert fixed.stdout.count("fixed    ") == 7
    assert fixed.stdout.rstrip().endswith("verdict  healthy now: every problem was fixed")
    assert cli("doctor").exit_code == 0
    assert not orphan.exists() and not leftover.exists()
    assert stat.S_IMODE(hello_artifact.parent.stat().st_mode) == 0o700
    assert [b["names"] for b in cli("list", "--json").json()] == [["hello"]]  # counter forgotten
    assert cli("run", "hello", "--input", "z").stdout == "Hello, z!\n"
    assert len(cli("traces", "list", "--json").json()) == 2


def test_doctor_fix_moves_a_damaged_database_aside_and_salvages_the_registry(
    wasmcli_home: Path,
) -> None:
    # Processes of their own, as a user runs them (one SQLite connection each).
    assert run_wasmcli("register", HELLO, "--name", "greeter").returncode == 0
    assert run_wasmcli("run", "greeter", "-i", "x").returncode == 0
    checkpoint(wasmcli_home)
    db = wasmcli_home / "wasmcli.db"
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'traces_started_at'"
        ).fetchone()[0]
    data = bytearray(db.read_bytes())
    data[(root - 1) * page_size : root * page_size] = os.urandom(page_size)  # an index page
    db.write_bytes(bytes(data))

    found = run_wasmcli("doctor")
    assert found.returncode == 9
    assert f"database: the database {db} is damaged" in found.stdout
    fixed = run_wasmcli("doctor", "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    aside = [
        p
        for p in wasmcli_home.glob("wasmcli.db.damaged-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data)  # kept, not deleted
    assert run_wasmcli("doctor").returncode == 0
    assert run_wasmcli("run", "greeter", "-i", "y").stdout == "Hello, y!\n"


def test_doctor_on_a_database_that_is_not_one(wasmcli_home: Path) -> None:
    assert run_wasmcli("register", HELLO).returncode == 0
    (wasmcli_home / "wasmcli.db").write_bytes(b"garbage" * 2000)
    found = run_wasmcli("doctor", "--json")
    assert found.returncode == 9
    [problem] = json.loads(found.stdout)["problems"]
    assert problem["check"] == "database" and "file is not a database" in problem["problem"]
    assert run_wasmcli("doctor", "--fix").returncode == 0
    # The registry is lost, but not the stored module: it is registered again, unnamed.
    [binary] = json.loads(run_wasmcli("list", "--json").stdout)
    assert (binary["sha256"], binary["names"]) == (module_sha(HELLO), [])
    named = run_wasmcli("register", HELLO)
    assert named.stderr == f"Already registered as {binary['id']}; added the name hello\n"
    assert run_wasmcli("doctor").returncode == 0
