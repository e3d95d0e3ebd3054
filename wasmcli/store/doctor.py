"""`wasmcli doctor`: check a home, say what is wrong with it, repair what can be repaired.

The checks, in order:
- folders: the home and its folders are folders, owned by this user and not writable
  by others (fix: tighten the mode);
- database: it opens and passes `PRAGMA integrity_check` (fix:
  move the damaged file aside as `wasmcli.db.damaged-<time>`, start a new database,
  salvage from the damaged one the registry rows that can still be read, and register
  the remaining module files without names);
- binaries: every registered module's file exists and matches its SHA-256 (fix: forget
  the binary, whose file is gone or wrong; register it again), every file in
  `binaries/` is registered (fix: remove the orphan), and every name points at a
  binary (fix: drop the name);
- traces: every summary has its events and every events row its summary, the events
  are JSON, and the running totals match (fix: drop the damaged rows, recount);
- cache: every artifact is intact, bound to the module and configuration its file name
  says, and written by this user (fix: remove it); temporary files left by a killed
  writer (fix: remove them).
Repairs that touch the registry hold the database's write lock, so they never race a
`register` or `remove` in another process.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wasmcli.errors import WasmcliError
from wasmcli.store.blobs import BlobStore, sha256_hex
from wasmcli.store.cache import (
    artifact_key,
    parse_artifact,
    payload_intact,
    untrusted_reason,
)
from wasmcli.store.db import DB_FILENAME, Transaction, open_database
from wasmcli.store.files import PRIVATE_DIR_MODE
from wasmcli.store.registry import binary_id_for
from wasmcli.tracing.events import format_utc, parse_utc

# A temporary file older than this was left by a writer that died; younger ones may
# belong to a write in progress.
STALE_TEMP_SECONDS = 600


@dataclass
class Finding:
    """One thing wrong with the home."""

    check: str  # folders, database, binaries, traces, cache
    problem: str
    fix: str | None  # what --fix does about it; None: it cannot be repaired here
    fixed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "problem": self.problem, "fix": self.fix, "fixed": self.fixed}


@dataclass
class DoctorReport:
    home: Path
    findings: list[Finding] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # what was looked at, by check

    @property
    def healthy(self) -> bool:
        """True when nothing is wrong, or everything wrong was repaired."""
        return all(finding.fixed for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "healthy": self.healthy,
            "checked": self.checked,
            "problems": [finding.to_dict() for finding in self.findings],
        }


def check_home(home: Path, fix: bool = False) -> DoctorReport:
    """Check `home` (repairing what can be repaired when `fix`); the report."""
    doctor = _Doctor(home, fix)
    doctor.run()
    return doctor.report


class _Doctor:
    def __init__(self, home: Path, fix: bool) -> None:
        self.home = home
        self.fix = fix
        self.report = DoctorReport(home)

    def found(self, check: str, problem: str, fix: str | None, repair: Any = None) -> None:
        finding = Finding(check, problem, fix)
        if self.fix and fix is not None and repair is not None:
            try:
                repair()
                finding.fixed = True
            except (OSError, WasmcliError, sqlite3.Error) as exc:
                finding.problem += f" (the repair failed: {_reason(exc)})"
        self.report.findings.append(finding)

    def run(self) -> None:
        if not self._check_folders():
            return
        conn = self._check_database()
        if conn is None:
            self._check_cache()
            return
        try:
            self._check_binaries(conn)
            self._check_traces(conn)
        finally:
            conn.close()
        self._check_cache()

    # -- folders --------------------------------------------------------------------

    def _check_folders(self) -> bool:
        """Whether the home is a folder there is any point in checking further."""
        if not self.home.exists():
            self.report.checked["folders"] = 0
            return False  # nothing stored yet: healthy
        if not self.home.is_dir():
            self.found("folders", f"the home {self.home} is not a folder", None)
            return False
        folders = [self.home, self.home / "binaries", self.home / "cache"]
        cache = self.home / "cache"
        if cache.is_dir():
            folders += sorted(path for path in cache.iterdir() if path.is_dir())
        checked = 0
        for folder in folders:
            if not folder.exists():
                continue
            checked += 1
            if not folder.is_dir() or folder.is_symlink():
                self.found(
                    "folders",
                    f"{folder} is not a folder: wasmcli cannot store anything there",
                    None,
                )
                continue
            reason = untrusted_reason(os.stat(folder), f"the folder {folder}")
            if reason is not None:
                ours = os.stat(folder).st_uid == os.geteuid()
                self.found(
                    "folders",
                    reason,
                    "make it private to its owner, mode 0700" if ours else None,
                    lambda folder=folder: os.chmod(folder, PRIVATE_DIR_MODE),
                )
        self.report.checked["folders"] = checked
        return True

    # -- database -------------------------------------------------------------------

    def _check_database(self) -> sqlite3.Connection | None:
        path = self.home / DB_FILENAME
        if not path.exists():
            self.report.checked["database"] = 0
            return None
        self.report.checked["database"] = 1
        problems = _database_problems(path)
        if problems:
            self.found(
                "database",
                f"the database {path} is damaged: {'; '.join(problems[:3])}",
                "move it aside, start a new one, salvage the registry rows it still holds and "
                "register the stored modules it lost",
                lambda: self._replace_database(path),
            )
            if not (self.fix and self.report.findings[-1].fixed):
                return None
        try:
            return open_database(self.home)
        except WasmcliError as exc:
            self.found("database", exc.message, None)
            return None

    def _replace_database(self, path: Path) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        aside = path.with_name(f"{DB_FILENAME}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{aside}{suffix}"))
        conn = open_database(self.home)
        try:
            _salvage_registry(aside, conn)
            _adopt_module_files(conn, BlobStore(self.home))
        finally:
            conn.close()

    # -- binaries -------------------------------------------------------------------

    def _check_binaries(self, conn: sqlite3.Connection) -> None:
        blobs = BlobStore(self.home)
        rows = conn.execute("SELECT id, sha256 FROM binaries ORDER BY id").fetchall()
        registered = {row["sha256"] for row in rows}
        for row in rows:
            path = blobs.path(row["sha256"])
            names = ", ".join(
                r["name"]
                for r in conn.execute(
                    "SELECT name FROM binary_names WHERE binary_id = ?", (row["id"],)
                )
            )
            label = f"binary {row['id'][:8]} ({names or 'no name'})"
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                problem = f"{label}: its file {path} is gone"
            except OSError as exc:
                problem = f"{label}: its file {path} cannot be read ({_reason(exc)})"
            else:
                if sha256_hex(data) == row["sha256"]:
                    continue
                problem = f"{label}: its file {path} does not match its SHA-256"
            self.found(
                "binaries",
                problem,
                "forget the binary and its names; register the module again",
                lambda row=row: _forget_binary(conn, blobs, row["id"], row["sha256"]),
            )
        files = list(blobs.files()) + _temp_files(blobs.root, STALE_TEMP_SECONDS)
        for path in files:
            if path.name.endswith(".wasm") and path.stem in registered:
                continue
            self.found(
                "binaries",
                f"{path} is not a registered module (left by an interrupted register or remove)",
                "remove it",
                lambda path=path: _remove_orphan_blob(conn, blobs, path),
            )
        dangling = [
            row["name"]
            for row in conn.execute(
                "SELECT name FROM binary_names LEFT JOIN binaries ON binaries.id = binary_id"
                " WHERE binaries.id IS NULL"
            )
        ]
        for name in dangling:
            self.found(
                "binaries",
                f"the name {name!r} points at a binary that is not registered",
                "drop the name",
                lambda name=name: _in_transaction(
                    conn, lambda: conn.execute("DELETE FROM binary_names WHERE name = ?", (name,))
                ),
            )
        self.report.checked["binaries"] = len(rows)

    # -- traces ---------------------------------------------------------------------

    def _check_traces(self, conn: sqlite3.Connection) -> None:
        count = conn.execute("SELECT count(*) FROM traces").fetchone()[0]
        self.report.checked["traces"] = count
        checks = (
            (
                "SELECT traces.seq FROM traces LEFT JOIN trace_events USING (seq)"
                " WHERE trace_events.seq IS NULL",
                "trace{s} without {their} events",
                "DELETE FROM traces WHERE seq = ?",
            ),
            (
                "SELECT trace_events.seq FROM trace_events LEFT JOIN traces USING (seq)"
                " WHERE traces.seq IS NULL",
                "events row{s} without {their} trace",
                "DELETE FROM trace_events WHERE seq = ?",
            ),
            (
                "SELECT seq FROM trace_events WHERE NOT json_valid(events_json)",
                "trace{s} whose events are not valid JSON",
                "DELETE FROM traces WHERE seq = ?",
            ),
        )
        for select, what, delete in checks:
            seqs = [(row[0],) for row in conn.execute(select)]
            if seqs:
                self.found(
                    "traces",
                    _counted(what, len(seqs)),
                    "delete them",
                    lambda seqs=seqs, delete=delete: _in_transaction(
                        conn, lambda: conn.executemany(delete, seqs)
                    ),
                )
        unreadable = [
            (row["seq"],)
            for row in conn.execute("SELECT seq, started_at FROM traces")
            if not _parses_as_time(row["started_at"])
        ]
        if unreadable:
            self.found(
                "traces",
                _counted("trace{s} whose start time cannot be read", len(unreadable)),
                "delete them",
                lambda: _in_transaction(
                    conn, lambda: conn.executemany("DELETE FROM traces WHERE seq = ?", unreadable)
                ),
            )
        totals = conn.execute("SELECT count, bytes FROM trace_totals WHERE id = 1").fetchone()
        actual = conn.execute("SELECT count(*), coalesce(sum(trace_bytes), 0) FROM traces")
        real = tuple(actual.fetchone())
        if totals is None or tuple(totals) != real:
            self.found(
                "traces",
                f"the trace totals say {tuple(totals) if totals else 'nothing'}, the traces "
                f"hold {real} (count, bytes): retention would keep the wrong amount",
                "recount them",
                lambda: _in_transaction(conn, lambda: _recount(conn)),
            )

    # -- cache ----------------------------------------------------------------------

    def _check_cache(self) -> None:
        cache = self.home / "cache"
        checked = 0
        if not cache.is_dir():
            self.report.checked["artifacts"] = 0
            return
        for folder in sorted(path for path in cache.iterdir() if path.is_dir()):
            for path in sorted(folder.glob("*.bin")):
                checked += 1
                problem = _artifact_problem(folder, path)
                if problem is not None:
                    self.found(
                        "cache",
                        f"{path}: {problem}",
                        "remove it; the module is compiled again when it next runs",
                        lambda path=path: path.unlink(missing_ok=True),
                    )
            for path in _temp_files(folder, STALE_TEMP_SECONDS):
                self.found(
                    "cache",
                    f"{path} was left by a killed writer",
                    "remove it",
                    lambda path=path: path.unlink(missing_ok=True),
                )
        self.report.checked["artifacts"] = checked


def _database_problems(path: Path) -> list[str]:
    """What `integrity_check` says, read-only; [] when healthy. (Rows that point at
    nothing are the binaries' and traces' checks: those can be repaired row by row.)"""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows
    except sqlite3.Error as exc:
        return [str(exc)]
    finally:
        conn.close()


# What a damaged database's registry is salvaged from, table by table.
_SALVAGED = (
    ("binaries", "id, sha256, size_bytes, source_path, registered_at"),
    ("binary_names", "name, binary_id, named_at"),
)


def _salvage_registry(damaged: Path, conn: sqlite3.Connection) -> None:
    """Copy the binaries and names that can still be read from a damaged database."""
    try:
        old = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return
    try:
        tables = [
            (table, columns, _readable_rows(old, f"SELECT {columns} FROM {table}"))
            for table, columns in _SALVAGED
        ]
    finally:
        old.close()
    with Transaction(conn):
        for table, columns, rows in tables:
            marks = ", ".join("?" * len(columns.split(",")))
            for row in rows:
                with contextlib.suppress(sqlite3.Error, WasmcliError):  # one bad row only
                    conn.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", row)


def _adopt_module_files(conn: sqlite3.Connection, blobs: BlobStore) -> None:
    """Register, without names, the intact module files that no row points at: after a
    database was lost, they are the user's modules (run them by id, name them again)."""
    now = format_utc(datetime.now(timezone.utc))
    with Transaction(conn):
        for path in blobs.files():
            data = blobs.get(path.stem)
            if data is None:
                continue
            conn.execute(
                "INSERT OR IGNORE INTO binaries (id, sha256, size_bytes, source_path,"
                " registered_at) VALUES (?, ?, ?, NULL, ?)",
                (binary_id_for(path.stem), path.stem, len(data), now),
            )


def _readable_rows(conn: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    try:
        for row in conn.execute(sql):
            rows.append(tuple(row))
    except sqlite3.Error:
        pass  # keep what was read before the damage
    return rows


def _forget_binary(conn: sqlite3.Connection, blobs: BlobStore, binary_id: str, sha: str) -> None:
    def forget() -> None:
        conn.execute("DELETE FROM binary_names WHERE binary_id = ?", (binary_id,))
        conn.execute("DELETE FROM binaries WHERE id = ?", (binary_id,))
        if blobs.get(sha) is None:
            blobs.delete(sha)

    _in_transaction(conn, forget)


def _remove_orphan_blob(conn: sqlite3.Connection, blobs: BlobStore, path: Path) -> None:
    # Under the write lock: a register writes its file inside its own transaction, so a
    # file without a row now is not one that a register is about to point at.
    def remove() -> None:
        sha = path.stem if path.name.endswith(".wasm") else None
        if sha is not None:
            row = conn.execute("SELECT 1 FROM binaries WHERE sha256 = ?", (sha,)).fetchone()
            if row is not None:
                return
        path.unlink(missing_ok=True)

    _in_transaction(conn, remove)


def _recount(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM trace_totals")
    conn.execute(
        "INSERT INTO trace_totals (id, count, bytes)"
        " SELECT 1, count(*), coalesce(sum(trace_bytes), 0) FROM traces"
    )


def _in_transaction(conn: sqlite3.Connection, action: Any) -> None:
    with Transaction(conn):
        action()


def _artifact_problem(folder: Path, path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        return f"cannot be read ({_reason(exc)})"
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        reason = untrusted_reason(info, "it")
        if reason is not None:
            return f"{reason}: wasmcli never loads it"
        raw = file.read()
    parsed = parse_artifact(raw)
    if parsed is None:
        return "is not a wasmcli artifact (no valid header)"
    header, payload = parsed
    if not payload_intact(header, payload):
        return "is damaged (its payload does not match its checksum)"
    if path.stem != artifact_key(header.module_sha256, header.config):
        return "was compiled from another module or configuration than its name says (swapped)"
    name, _, rest = header.config.partition(" ")
    version = rest.split(" ", 1)[0]
    if folder.name != f"{name}-{version}":
        return f"was compiled by {name} {version}, not by the engine its folder is for"
    return None


def _temp_files(folder: Path, min_age: float) -> list[Path]:
    if not folder.is_dir():
        return []
    now = time.time()
    return sorted(path for path in folder.glob(".*.tmp") if now - path.lstat().st_mtime >= min_age)


def _parses_as_time(text: object) -> bool:
    try:
        parse_utc(str(text))
    except ValueError:
        return False
    return True


def _counted(template: str, count: int) -> str:
    text = template.format(s="" if count == 1 else "s", their="its" if count == 1 else "their")
    return f"{count:,} {text}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, WasmcliError):
        return exc.message
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
