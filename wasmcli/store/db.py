"""Opening the SQLite database: WAL, a busy timeout, migrations applied first.

WAL lets readers work while another wasmcli process writes; the busy timeout makes
concurrent writers wait for each other instead of failing with "database is locked".

Every SQLite failure reaches the user as one line and exit 9 (`ErrorKind.IO`), never as
an internal error: the connection's cursors translate `sqlite3.DatabaseError` into a
`WasmcliError` that says what is wrong with the home (damaged, read-only, full, busy).

A home that cannot be written (a read-only image, a CI cache mount) is opened read-only:
the read commands work, and a write fails with one line saying the home is read-only.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.safe_text import fs_text
from wasmcli.store.files import PRIVATE_FILE_MODE, make_private_dir
from wasmcli.store.migrations import migrate, pending_migrations

DB_FILENAME = "wasmcli.db"
BUSY_TIMEOUT_MS = 30_000
DOCTOR_HINT = "`wasmcli doctor` checks the home"


class StoreConnection(sqlite3.Connection):
    """A connection to a home's database whose every failure is a WasmcliError(IO)."""

    home: Path
    read_only: bool

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or StoreCursor)

    # Connection.execute makes its cursor in C, without calling `cursor`: route it here.
    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any) -> Any:
        return self.cursor().executemany(sql, seq_of_parameters)


class StoreCursor(sqlite3.Cursor):
    connection: StoreConnection

    def _call(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except sqlite3.IntegrityError:
            raise  # a constraint broken by wasmcli's own SQL is a bug, not a damaged home
        except sqlite3.DatabaseError as exc:
            raise database_error(self.connection.home, exc) from None
        except UnicodeDecodeError as exc:
            # A damaged page can give a column's name (or the schema's text) bytes that
            # are not UTF-8: Python raises this instead of a DatabaseError.
            damage = sqlite3.DatabaseError(f"malformed text in a row: {exc.reason}")
            raise database_error(self.connection.home, damage) from None

    # Text from the file system or the command line may hold bytes that are not UTF-8
    # (Python keeps them as lone surrogates), which SQLite cannot take: such a value is
    # stored with U+FFFD in their place. Only a failed statement pays for the check.
    def execute(self, sql: str, parameters: Any = ()) -> StoreCursor:
        try:
            return self._call(super().execute, sql, parameters)  # type: ignore[no-any-return]
        except UnicodeEncodeError:
            return self._call(super().execute, sql, _valid_text(parameters))  # type: ignore[no-any-return]

    def executemany(self, sql: str, seq_of_parameters: Any) -> StoreCursor:
        rows = list(seq_of_parameters)
        try:
            return self._call(super().executemany, sql, rows)  # type: ignore[no-any-return]
        except UnicodeEncodeError:
            valid = [_valid_text(row) for row in rows]
            return self._call(super().executemany, sql, valid)  # type: ignore[no-any-return]

    def fetchone(self) -> Any:
        return self._call(super().fetchone)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._call(super().fetchmany, size if size is not None else self.arraysize)  # type: ignore[no-any-return]

    def fetchall(self) -> list[Any]:
        return self._call(super().fetchall)  # type: ignore[no-any-return]

    def __next__(self) -> Any:
        return self._call(super().__next__)


def _valid_text(parameters: Any) -> Any:
    if isinstance(parameters, dict):
        return {key: _valid_text(value) for key, value in parameters.items()}
    if isinstance(parameters, (tuple, list)):
        return [_valid_text(value) for value in parameters]
    return fs_text(parameters) if isinstance(parameters, str) else parameters


def database_error(home: Path, exc: sqlite3.DatabaseError) -> WasmcliError:
    """The one line a user sees for a database failure."""
    text = str(exc)
    lowered = text.lower()
    path = home / DB_FILENAME
    # SQLite's own words: "database disk image is malformed", "file is not a database",
    # "attempt to write a readonly database"; Python's "Could not decode to UTF-8 column
    # ..." for text that is not UTF-8 in a row.
    if "malformed" in lowered or "not a database" in lowered or "could not decode" in lowered:
        message = f"the wasmcli database {path} is damaged ({text}); {DOCTOR_HINT}"
    elif "readonly" in lowered:
        message = f"the wasmcli home {home} is read-only: {text}"
    elif "full" in lowered or ("disk i/o error" in lowered and _nearly_full(home)):
        # SQLite says "disk I/O error" when the file system fills up under its WAL.
        message = f"no space left for the wasmcli database in {home} ({text})"
    elif "locked" in lowered or "busy" in lowered:
        message = (
            f"the wasmcli database {path} stayed locked by another process for "
            f"{BUSY_TIMEOUT_MS // 1000} s ({text})"
        )
    else:
        message = f"the wasmcli database {path} failed: {text}"
    return WasmcliError(ErrorKind.IO, message)


# Less room than this where the database lives: an I/O error there is a full disk.
_NEARLY_FULL_BYTES = 64 * 1024


def _nearly_full(home: Path) -> bool:
    try:
        fs = os.statvfs(home)
    except OSError:
        return False
    free_blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail  # root may use the reserve
    return free_blocks * fs.f_frsize < _NEARLY_FULL_BYTES


def home_error(home: Path, exc: OSError, doing: str = "use") -> WasmcliError:
    """One line for a file-system failure in the home (not a folder, read-only, full)."""
    if isinstance(exc, NotADirectoryError) or exc.errno == errno.ENOTDIR:
        reason = "it (or a folder in it) is a file, not a folder"
    elif isinstance(exc, FileExistsError) and exc.filename and Path(exc.filename).is_file():
        reason = f"{exc.filename} is a file, not a folder"
    elif exc.errno == errno.EROFS:
        reason = "the file system is read-only"
    elif exc.errno == errno.ENOSPC:
        reason = "no space left on the device"
    elif exc.errno == errno.EDQUOT:
        reason = "the disk quota is exceeded"
    elif isinstance(exc, PermissionError):
        reason = f"permission denied ({exc.filename or home})"
    else:
        reason = exc.strerror or str(exc)
    return WasmcliError(ErrorKind.IO, f"Cannot {doing} the wasmcli home {home}: {reason}")


def open_database(home: Path) -> StoreConnection:
    """Open (creating if needed) `home/wasmcli.db`, migrated to the current schema."""
    ahead = _take_opened_ahead(home)
    if ahead is not None:
        return ahead
    path = home / DB_FILENAME
    try:
        read_only = _is_read_only(home)
        if not read_only:
            make_private_dir(home)
            _create_private_file(path)
        conn = _connect(path, read_only)
    except OSError as exc:
        raise home_error(home, exc) from None
    except sqlite3.DatabaseError as exc:
        raise database_error(home, exc) from None
    conn.home = home
    conn.read_only = read_only
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            _check_schema_readable(conn)
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


# A connection opened before it was asked for (`open_ahead`), with the identity of the
# file it opened and whether that home was read-only then.
_AHEAD: tuple[StoreConnection, tuple[int, int], bool] | None = None


def open_ahead(home: Path) -> None:
    """Open `home`'s database now, for this process's next `open_database` of the same
    file to take: a daemon's process opens it while it waits for a request."""
    global _AHEAD
    conn = open_database(home)
    info = os.stat(home / DB_FILENAME)
    _AHEAD = (conn, (info.st_dev, info.st_ino), conn.read_only)


def _take_opened_ahead(home: Path) -> StoreConnection | None:
    """The connection opened ahead, if it is of this home's database file as it is now
    (not moved aside by `doctor --fix` meanwhile, as writable as it was); taken once."""
    global _AHEAD
    ahead, _AHEAD = _AHEAD, None
    if ahead is None:
        return None
    conn, identity, read_only = ahead
    try:
        info = os.stat(home / DB_FILENAME)
        same = (info.st_dev, info.st_ino) == identity and _is_read_only(home) == read_only
    except OSError:
        same = False
    if not same:
        conn.close()
        return None
    conn.home = home  # messages name the home as this invocation gave it
    return conn


def _is_read_only(home: Path) -> bool:
    """A home that exists with its database but cannot be written to."""
    return (home / DB_FILENAME).is_file() and not os.access(home, os.W_OK)


def _create_private_file(path: Path) -> None:
    # SQLite would create the file 0644 less the umask (and its -wal and -shm files copy
    # that mode): create it empty, for the owner only, before SQLite opens it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)


def _connect(path: Path, read_only: bool) -> StoreConnection:
    # isolation_level=None: transactions are explicit (BEGIN ... COMMIT) in the store.
    options: dict[str, Any] = {
        "timeout": BUSY_TIMEOUT_MS / 1000,
        "isolation_level": None,
        "factory": StoreConnection,
    }
    if not read_only:
        conn: StoreConnection = sqlite3.connect(path, **options)
        return conn
    # WAL needs its -shm file: when the writer left -wal and -shm behind they are read as
    # they are; when it closed cleanly there is nothing in them, and the file is read as
    # immutable (no lock, no -shm), which SQLite allows on a read-only file system.
    wal = Path(f"{path}-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    query = "mode=ro" if has_wal else "immutable=1"
    uri = f"{path.resolve().as_uri()}?{query}"
    conn = sqlite3.connect(uri, uri=True, **options)
    return conn


def _check_schema_readable(conn: StoreConnection) -> None:
    # A read-only database cannot be migrated; an older schema would fail query by query.
    pending = pending_migrations(conn)
    if pending:
        raise WasmcliError(
            ErrorKind.IO,
            f"the wasmcli home {conn.home} is read-only and its database is not at this "
            f"version's schema (pending: {', '.join(pending)}): open it once with write access",
        )


def is_read_only(conn: sqlite3.Connection) -> bool:
    return bool(getattr(conn, "read_only", False))


class Transaction:
    """`with Transaction(conn):` — BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on error.

    IMMEDIATE takes the write lock at BEGIN, so what happens inside (files written or
    removed with the rows that point at them) is serialised with every other writer.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        if is_read_only(self.conn):
            home = getattr(self.conn, "home", "")
            raise WasmcliError(
                ErrorKind.IO,
                f"the wasmcli home {home} is read-only: this command needs to write to it",
            )
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
            return
        try:
            self.conn.execute("ROLLBACK")
        except WasmcliError:
            pass  # the failure that brought us here is the one to report
