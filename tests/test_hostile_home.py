"""Attacks on the home, each a test: the compiled-module cache, file modes, damaged state.

A cached artifact is native code that the engine runs without checking it, so the cache
must only ever hand back the module that was asked for, compiled with the configuration
that was asked for, intact, and written by this user.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.cache import MAGIC, ArtifactHeader, parse_artifact
from wasmcli.store.registry import Registry

from .conftest import SAMPLES
from .home_tools import artifacts, error_lines, module_sha, run_wasmcli

HELLO = str(SAMPLES / "hello.wasm")
DIVIDE = str(SAMPLES / "faulty" / "divide_by_zero.wasm")
MEMORY_BOMB = str(SAMPLES / "faulty" / "memory_bomb.wasm")


def load_event(cli) -> dict:
    events = cli("traces", "show", "--last", "--json").json()["events"]
    return next(e for e in events if e["metadata"].get("step") == "module")["metadata"]


def cached_artifact(cli, home: Path, module: str) -> Path:
    """Run `module` once so that its artifact is cached; the artifact's path."""
    cli("run", module, "--input", "x")
    return artifacts(home)[module_sha(module)]


# -- the cache hands back only the module asked for --------------------------------


def test_a_swapped_artifact_is_never_loaded(cli, wasmcli_home: Path) -> None:
    # The attack from the report: hello's artifact copied over divide_by_zero's made
    # `run divide_by_zero.wasm` print "Hello, !" and exit 0.
    hello_artifact = cached_artifact(cli, wasmcli_home, HELLO)
    divide_artifact = cached_artifact(cli, wasmcli_home, DIVIDE)
    shutil.copyfile(hello_artifact, divide_artifact)
    result = cli("run", DIVIDE)
    assert result.exit_code == 8 and "Hello" not in result.stdout
    assert "divide by zero" in result.stderr
    assert load_event(cli)["from_cache"] is False
    assert artifacts(wasmcli_home)[module_sha(DIVIDE)] == divide_artifact  # rewritten, right
    assert cli("run", DIVIDE).exit_code == 8 and load_event(cli)["from_cache"] is True


def test_flipped_bytes_in_an_artifact_are_never_loaded(cli, wasmcli_home: Path) -> None:
    # Same length, different bytes: only a checksum of the content notices.
    path = cached_artifact(cli, wasmcli_home, HELLO)
    raw = bytearray(path.read_bytes())
    for offset in range(len(raw) // 2, len(raw) // 2 + 64):
        raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert cli("run", HELLO, "--input", "b").stdout == "Hello, b!\n"
    assert load_event(cli)["from_cache"] is False


def test_an_artifact_of_another_engine_version_is_never_loaded(cli, wasmcli_home: Path) -> None:
    # A stale artifact, intact and for the right module, but compiled by another engine
    # version (or with other settings) than this one: its header says so.
    path = cached_artifact(cli, wasmcli_home, HELLO)
    parsed = parse_artifact(path.read_bytes())
    assert parsed is not None
    header, payload = parsed
    name, version, *settings = header.config.split(" ")
    stale = ArtifactHeader(
        header.module_sha256,
        " ".join([name, version + ".post1", *settings]),
        header.payload_sha256,
        header.payload_bytes,
    )
    path.write_bytes(stale.encode() + payload)
    assert cli("run", HELLO, "--input", "c").stdout == "Hello, c!\n"
    assert load_event(cli)["from_cache"] is False


def test_an_artifact_without_a_header_is_never_loaded(cli, wasmcli_home: Path) -> None:
    # The format of older wasmcli versions (a checksum only, no module or configuration).
    path = cached_artifact(cli, wasmcli_home, HELLO)
    payload = parse_artifact(path.read_bytes())[1]  # type: ignore[index]
    path.write_bytes(b"WASMCLI-ARTIFACT-1 " + b"0" * 64 + b"\n" + payload)
    assert cli("run", HELLO, "--input", "d").stdout == "Hello, d!\n"
    assert load_event(cli)["from_cache"] is False
    assert path.read_bytes().startswith(MAGIC)  # replaced by a current one


def test_the_memory_cap_is_part_of_what_an_artifact_is_bound_to(cli) -> None:
    # wasmer compiles the cap into the module: an artifact compiled under 64 MB must not
    # serve a run under 4 MB (it would reach 62 MB).
    assert "got 62 MB" in cli("run", MEMORY_BOMB).stdout
    capped = cli("run", MEMORY_BOMB, "--memory-limit-mb", "4")
    got_mb = int(capped.stdout.split("got ", 1)[1].split(" MB", 1)[0])
    assert got_mb < 4


def test_an_artifact_others_could_write_is_never_loaded(cli, wasmcli_home: Path) -> None:
    path = cached_artifact(cli, wasmcli_home, HELLO)
    path.chmod(0o666)
    assert cli("run", HELLO, "--input", "e").stdout == "Hello, e!\n"
    assert load_event(cli)["from_cache"] is False


def test_a_cache_folder_others_could_write_is_not_trusted_then_tightened(
    cli, wasmcli_home: Path
) -> None:
    path = cached_artifact(cli, wasmcli_home, HELLO)
    path.parent.chmod(0o777)  # as an older wasmcli left it under umask 000
    cli("run", HELLO, "--input", "f")
    assert load_event(cli)["from_cache"] is False
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    cli("run", HELLO, "--input", "g")
    assert load_event(cli)["from_cache"] is True


def test_a_symlinked_artifact_is_never_followed(cli, wasmcli_home: Path, tmp_path: Path) -> None:
    hello_artifact = cached_artifact(cli, wasmcli_home, HELLO)
    divide_artifact = cached_artifact(cli, wasmcli_home, DIVIDE)
    planted = tmp_path / "planted.bin"
    shutil.copyfile(hello_artifact, planted)
    divide_artifact.unlink()
    divide_artifact.symlink_to(planted)
    assert cli("run", DIVIDE).exit_code == 8
    assert load_event(cli)["from_cache"] is False


def test_a_symlink_to_the_right_artifact_is_not_followed_either(
    cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    # The README's "not a symlink" holds on its own, not only through the header check:
    # the link's target is the very artifact asked for, intact, and still not loaded
    # (whoever can change where a link points chooses the code that runs).
    artifact = cached_artifact(cli, wasmcli_home, HELLO)
    elsewhere = tmp_path / "elsewhere.bin"
    shutil.copyfile(artifact, elsewhere)
    artifact.unlink()
    artifact.symlink_to(elsewhere)
    assert cli("run", HELLO, "--input", "s").stdout == "Hello, s!\n"
    assert load_event(cli)["from_cache"] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_an_artifact_of_another_user_is_never_loaded(cli, wasmcli_home: Path) -> None:
    path = cached_artifact(cli, wasmcli_home, HELLO)
    os.chown(path, 65534, 65534)
    assert cli("run", HELLO, "--input", "h").stdout == "Hello, h!\n"
    assert load_event(cli)["from_cache"] is False


# -- the home is private whatever the umask ------------------------------------------


def test_home_folders_and_files_are_private_under_umask_000(engine: str, tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    done = run_wasmcli(
        "--home", str(home), "register", HELLO, env={"WASMCLI_ENGINE": engine}, umask=0
    )
    assert done.returncode == 0, done.stderr
    done = run_wasmcli(
        "--home", str(home), "run", "hello", "-i", "x", env={"WASMCLI_ENGINE": engine}, umask=0
    )
    assert done.returncode == 0, done.stderr
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    folders = [home, home / "binaries", home / "cache", *(home / "cache").iterdir()]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
    files = [home / "wasmcli.db", *(home / "binaries").iterdir(), *(home / "cache").rglob("*.bin")]
    files += [p for p in home.glob("wasmcli.db-*")]  # -wal and -shm, when left
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    assert (home.parent.stat().st_mode & 0o777) == 0o777  # parents keep the usual mode


# -- damaged state: one line and a documented exit code ------------------------------


def _damaged_copy(source: Path, target: Path, rng: random.Random) -> None:
    shutil.copytree(source, target)
    db = target / "wasmcli.db"
    data = bytearray(db.read_bytes())
    for _ in range(rng.choice([1, 4, 16, 64])):
        data[rng.randrange(len(data))] = rng.randrange(256)
    db.write_bytes(bytes(data))


def test_a_damaged_database_gives_one_line_and_exit_9_never_an_internal_error(
    any_engine_cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    cli = any_engine_cli
    cli("register", HELLO)
    for n in range(12):
        cli("run", "hello", "--input", "x" * n)
    with sqlite3.connect(wasmcli_home / "wasmcli.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    commands = [
        ("traces", "list"),
        ("traces", "list", "--json", "--failed"),
        ("traces", "show", "--last"),
        ("traces", "export", "--format", "chrome"),
        ("traces", "clear", "--yes"),
        ("list",),
        ("run", "hello", "--input", "z"),
    ]
    rng = random.Random(1234)
    outcomes: set[int] = set()
    for trial in range(15):
        home = tmp_path / f"damaged{trial}"
        _damaged_copy(wasmcli_home, home, rng)
        for command in commands:
            result = cli("--home", str(home), *command)
            if result.exit_code == 3:
                # Damage to a module's recorded sha256 leaves its stored file unfound: a
                # run says so on its one line (exit 3, load), like any missing module.
                assert command[0] == "run", (trial, command, result)
                assert "Failed to get binary: the stored file of hello is" in result.stderr
            else:
                assert result.exit_code in (0, 2, 9), (trial, command, result)
            assert "Internal error" not in result.stderr and "Traceback" not in result.stderr
            assert len(error_lines(result.stderr)) <= 1, (trial, command, result.stderr)
            if result.exit_code == 9:
                assert "doctor" in result.stderr or "damaged" in result.stderr, result.stderr
            outcomes.add(result.exit_code)
    assert 9 in outcomes  # the damage was seen, not only lucky bytes


def test_a_database_that_is_not_one_is_named_with_the_doctor_hint(wasmcli_home: Path) -> None:
    # Processes of their own: SQLite shares a file's WAL index between the connections
    # of one process, which would still see the pages that were overwritten.
    assert run_wasmcli("register", HELLO).returncode == 0
    (wasmcli_home / "wasmcli.db").write_bytes(b"this is not SQLite" * 1000)
    for command in (("list",), ("traces", "list"), ("register", HELLO)):
        result = run_wasmcli(*command)
        assert result.returncode == 9
        assert error_lines(result.stderr) == [
            f"error: the wasmcli database {wasmcli_home / 'wasmcli.db'} is damaged (file is not "
            "a database); `wasmcli doctor` checks the home"
        ]


def test_register_into_a_home_whose_binaries_folder_is_a_file(
    any_engine_cli, wasmcli_home: Path
) -> None:
    any_engine_cli("list")  # creates the home
    (wasmcli_home / "binaries").write_text("not a folder")
    result = any_engine_cli("register", HELLO)
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: Cannot store the module in the wasmcli home {wasmcli_home}: "
        "it (or a folder in it) is a file, not a folder"
    ]
    assert any_engine_cli("list", "--json").json() == []  # no row points at nothing


def test_a_home_that_is_a_file(any_engine_cli, tmp_path: Path) -> None:
    home = tmp_path / "home-file"
    home.write_text("x")
    for command in (("register", HELLO), ("list",), ("traces", "list")):
        result = any_engine_cli("--home", str(home), *command)
        assert result.exit_code == 2  # the CLI refuses it as a usage error, before any write
        assert len(error_lines(result.stderr)) == 1 and "is a file" in result.stderr
    # The library says the same in its own words (exit 9's kind), never a raw OSError.
    with pytest.raises(WasmcliError) as caught:
        Registry(home).list()
    assert caught.value.kind is ErrorKind.IO
    assert caught.value.message == (
        f"Cannot use the wasmcli home {home}: it (or a folder in it) is a file, not a folder"
    )


def test_a_home_whose_parent_folders_do_not_exist_yet_is_created(
    any_engine_cli, tmp_path: Path
) -> None:
    # A fresh account has no ~/.local/share yet: the first command makes the whole path.
    home = tmp_path / "fresh" / ".local" / "share" / "wasmcli"
    result = any_engine_cli("--home", str(home), "register", HELLO)
    assert result.exit_code == 0, result
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    ran = any_engine_cli("--home", str(home), "run", "hello", "--input", "x")
    assert ran.stdout == "Hello, x!\n"


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only"),
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "the disk quota is exceeded"),
        (
            PermissionError(errno.EACCES, "Permission denied", "/x/binaries"),
            "permission denied (/x/binaries)",
        ),
        (OSError(errno.EIO, "Input/output error"), "Input/output error"),
        (OSError("the mount went away"), "the mount went away"),  # no errno, no strerror
    ],
    ids=["read-only", "full", "quota", "permission", "other", "no-strerror"],
)
def test_each_failure_to_write_the_home_is_named_in_one_line(
    any_engine_cli, wasmcli_home: Path, monkeypatch, failure: OSError, reason: str
) -> None:
    # The failures a user meets in the field (most cannot be staged here, as root, on a
    # healthy disk): the file system refuses the module's file. Exit 9, the reason in
    # words, and nothing stored.
    def refuse(path: Path, data: bytes) -> None:
        raise failure

    monkeypatch.setattr("wasmcli.store.blobs.write_atomically", refuse)
    result = any_engine_cli("register", HELLO)
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: Cannot store the module in the wasmcli home {wasmcli_home}: {reason}"
    ]
    assert any_engine_cli("list", "--json").json() == []


def test_permission_denied_on_a_file_is_said_as_such(
    any_engine_cli, wasmcli_home: Path, monkeypatch
) -> None:
    # Only a file standing where a folder should be is "a file, not a folder": a file the
    # user may not write is a permission problem, named with its path.
    locked = wasmcli_home / "binaries" / "locked.wasm"
    locked.parent.mkdir(parents=True)
    locked.write_bytes(b"")

    def refuse(path: Path, data: bytes) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(locked))

    monkeypatch.setattr("wasmcli.store.blobs.write_atomically", refuse)
    result = any_engine_cli("register", HELLO)
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: Cannot store the module in the wasmcli home {wasmcli_home}: "
        f"permission denied ({locked})"
    ]


@pytest.mark.parametrize(
    ("sqlite_says", "line"),
    [
        (
            "database disk image is malformed",
            "the wasmcli database {db} is damaged (database disk image is malformed); "
            "`wasmcli doctor` checks the home",
        ),
        (
            "file is not a database",
            "the wasmcli database {db} is damaged (file is not a database); "
            "`wasmcli doctor` checks the home",
        ),
        (
            "attempt to write a readonly database",
            "the wasmcli home {home} is read-only: attempt to write a readonly database",
        ),
        (
            "database or disk is full",
            "no space left for the wasmcli database in {home} (database or disk is full)",
        ),
        (
            "database is locked",
            "the wasmcli database {db} stayed locked by another process for 30 s "
            "(database is locked)",
        ),
        ("disk I/O error", "the wasmcli database {db} failed: disk I/O error"),
    ],
    ids=["malformed", "not-a-database", "read-only", "full", "locked", "other"],
)
def test_each_database_failure_is_named_in_one_line(
    any_engine_cli, wasmcli_home: Path, monkeypatch, sqlite_says: str, line: str
) -> None:
    # SQLite's own words for what a user meets in the field, turned into one line that
    # says what to do (exit 9), whichever command opened the database.
    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError(sqlite_says)

    monkeypatch.setattr("wasmcli.store.db._connect", refuse)
    for command in (("list",), ("register", HELLO), ("traces", "list")):
        result = any_engine_cli(*command)
        assert result.exit_code == 9, command
        expected = line.format(db=wasmcli_home / "wasmcli.db", home=wasmcli_home)
        assert error_lines(result.stderr) == [f"error: {expected}"], command


@pytest.mark.parametrize(
    ("uid", "free_blocks", "reserved_blocks", "full"),
    [
        (1000, 15, 0, True),  # less than 64 KiB left
        (1000, 16, 0, False),  # 64 KiB left: room yet, the I/O error is something else
        (1000, 2, 1000, True),  # only root's reserve left, for an ordinary user
        (0, 2, 1000, False),  # root may write into the reserve
        (0, 15, 0, True),
        ("statvfs fails", 0, 0, False),
    ],
    ids=["user-15", "user-16", "user-reserve", "root-reserve", "root-15", "no-statvfs"],
)
def test_an_io_error_is_a_full_disk_only_where_the_disk_is_nearly_full(
    any_engine_cli, wasmcli_home: Path, monkeypatch, uid, free_blocks, reserved_blocks, full
) -> None:
    # SQLite says "disk I/O error" when the file system fills up under its WAL: wasmcli
    # asks the file system how much room is left (4 KiB blocks here) before it says why.
    wasmcli_home.mkdir(parents=True)

    def statvfs(path: object) -> os.statvfs_result:
        if uid == "statvfs fails":
            raise OSError(errno.ENOSYS, "not supported")
        available = free_blocks  # what an ordinary user may use
        return os.statvfs_result(
            (4096, 4096, 100_000, available + reserved_blocks, available, 0, 0, 0, 0, 255)
        )

    def refuse(*args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("wasmcli.store.db._connect", refuse)
    monkeypatch.setattr("wasmcli.store.db.os.statvfs", statvfs)
    monkeypatch.setattr("wasmcli.store.db.os.geteuid", lambda: 0 if uid == 0 else 1000)
    result = any_engine_cli("list")
    assert result.exit_code == 9
    expected = (
        f"no space left for the wasmcli database in {wasmcli_home} (disk I/O error)"
        if full
        else f"the wasmcli database {wasmcli_home / 'wasmcli.db'} failed: disk I/O error"
    )
    assert error_lines(result.stderr) == [f"error: {expected}"]


def test_text_in_the_database_that_is_not_utf8_is_damage(
    any_engine_cli, wasmcli_home: Path
) -> None:
    # A row whose text is not UTF-8 (a damaged page, a foreign writer): said as damage,
    # with where to look, in one line (exit 9).
    assert any_engine_cli("register", HELLO).exit_code == 0
    conn = sqlite3.connect(wasmcli_home / "wasmcli.db", isolation_level=None)
    conn.execute("UPDATE binary_names SET name = CAST(x'68ff' AS TEXT)")
    conn.close()
    result = any_engine_cli("list")
    assert result.exit_code == 9
    [line] = error_lines(result.stderr)
    assert line.startswith(
        f"error: the wasmcli database {wasmcli_home / 'wasmcli.db'} is damaged (Could not "
        "decode to UTF-8 column 'name'"
    )
    assert line.endswith("); `wasmcli doctor` checks the home")


def test_a_column_name_that_is_not_utf8_is_damage(any_engine_cli, wasmcli_home: Path) -> None:
    # Damage in the schema itself: Python fails to decode a column's name.
    assert any_engine_cli("register", HELLO).exit_code == 0
    conn = sqlite3.connect(wasmcli_home / "wasmcli.db", isolation_level=None)
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'source_path TEXT',"
        " CAST(x'736f75726365ff' AS TEXT) || ' TEXT') WHERE name = 'binaries'"
    )
    conn.close()
    result = any_engine_cli("list")
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: the wasmcli database {wasmcli_home / 'wasmcli.db'} is damaged (malformed "
        "text in a row: invalid start byte); `wasmcli doctor` checks the home"
    ]


def test_a_home_inside_a_file_names_the_file(any_engine_cli, tmp_path: Path) -> None:
    # A typo'd --home under a file: the line says which file stands in the way.
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    home = blocker / "home"
    for command in (("register", HELLO), ("list",)):
        result = any_engine_cli("--home", str(home), *command)
        assert result.exit_code == 9, command
        assert error_lines(result.stderr) == [
            f"error: Cannot use the wasmcli home {home}: {blocker} is a file, not a folder"
        ]


def test_register_on_a_full_disk_fails_cleanly_and_keeps_the_registry(tmp_path: Path) -> None:
    from .home_tools import full_disk_runner

    home = tmp_path / "small"
    home.mkdir()
    run = full_disk_runner(home)
    done = run(
        '"$WASMCLI" --home "$HOME_DIR" register '
        + HELLO
        + ' >/dev/null 2>&1 || exit 99; fill; "$WASMCLI" --home "$HOME_DIR" register '
        + str(SAMPLES / "word_freq.wasm")
        + '; echo "exit=$?" >&2; rm -f "$HOME_DIR/filler"; '
        '"$WASMCLI" --home "$HOME_DIR" list --json'
    )
    assert "exit=9" in done.stderr, done.stderr
    errors = error_lines(done.stderr)
    # Not `"full" in errors[0]`: the home's path (this test's name) says "full" too.
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: no space left for the wasmcli database in {home} ")
    assert [b["name"] for b in json.loads(done.stdout)] == ["hello"]


# -- traces export writes into what is there ----------------------------------------


def test_export_to_a_fifo_writes_into_it(any_engine_cli, tmp_path: Path) -> None:
    import threading

    any_engine_cli("run", HELLO, "--input", "x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    # A daemon: if the FIFO were replaced, this reader would wait forever for a writer.
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = any_engine_cli("traces", "export", "--output", str(fifo))
    assert result.exit_code == 0
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still a FIFO, not replaced by a file
    reader.join(30)
    assert len(json.loads(received[0])) == 1


def test_export_through_a_symlink_writes_its_target(any_engine_cli, tmp_path: Path) -> None:
    any_engine_cli("run", HELLO, "--input", "x")
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert any_engine_cli("traces", "export", "--output", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(json.loads(target.read_text())) == 1


def test_export_to_standard_output_by_its_path_writes_to_it(tmp_path: Path) -> None:
    # /dev/stdout is a symlink to /proc/self/fd/1. The test uses a link of its own to that
    # file and the /proc path itself: a broken export running as root would replace the
    # machine's real /dev/stdout with a regular file.
    home = tmp_path / "h"
    assert run_wasmcli("--home", str(home), "run", HELLO, "-i", "x").returncode == 0
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    for target in (str(link), "/proc/self/fd/1"):
        done = run_wasmcli("--home", str(home), "traces", "export", "--output", target)
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)) == 1
    assert link.is_symlink()


def test_export_into_a_missing_folder_is_refused(any_engine_cli, tmp_path: Path) -> None:
    any_engine_cli("run", HELLO, "--input", "x")
    target = tmp_path / "missing" / "out.json"
    result = any_engine_cli("traces", "export", "--output", str(target))
    assert result.exit_code == 9
    assert error_lines(result.stderr) == [
        f"error: Cannot write {target}: the folder {target.parent} does not exist"
    ]
    assert not target.parent.exists()


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_export_files_get_the_umask_mode(tmp_path: Path, umask: int) -> None:
    home = tmp_path / "h"
    run_wasmcli("--home", str(home), "run", HELLO, "-i", "x")
    out = tmp_path / "out.json"
    done = run_wasmcli("--home", str(home), "traces", "export", "-o", str(out), umask=umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    out.chmod(0o640)  # an existing file keeps its mode when it is replaced
    run_wasmcli("--home", str(home), "traces", "export", "-o", str(out), umask=umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert len(json.loads(out.read_text())) == 1
