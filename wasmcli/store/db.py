"""Opening the SQLite database: WAL, a busy timeout, and migrations applied first.

WAL lets readers work while another wasmcli process writes; the busy timeout makes
concurrent writers wait for each other instead of failing with "database is locked".
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.migrations import migrate

DB_FILENAME = "wasmcli.db"
BUSY_TIMEOUT_MS = 30_000


def open_database(home: Path) -> sqlite3.Connection:
    """Open (creating if needed) `home/wasmcli.db`, migrated to the current schema."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN ... COMMIT) in the store.
        conn = sqlite3.connect(
            home / DB_FILENAME, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot open the wasmcli database in {home}: {exc}"
        ) from exc
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot use the wasmcli home {home}: {exc}") from exc
    return conn


class Transaction:
    """`with Transaction(conn):` — BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
