"""Named, append-only schema migrations, recorded in `_migrations` as they are applied.

Never edit a migration that has shipped: add the next one. Every command that opens the
database migrates first (see `db.open_database`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

Migration = Callable[[sqlite3.Connection], None]


def _execute_all(conn: sqlite3.Connection, script: str) -> None:
    # Statement by statement: executescript() would COMMIT the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def m001_initial(conn: sqlite3.Connection) -> None:
    _execute_all(
        conn,
        """
        CREATE TABLE binaries (
            id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,
            size_bytes INTEGER NOT NULL,
            source_path TEXT,
            registered_at TEXT NOT NULL
        );
        CREATE TABLE binary_names (
            name TEXT PRIMARY KEY,
            binary_id TEXT NOT NULL REFERENCES binaries(id) ON DELETE CASCADE,
            named_at TEXT NOT NULL
        );
        CREATE INDEX binary_names_binary ON binary_names(binary_id);
        CREATE TABLE traces (
            trace_id TEXT PRIMARY KEY,
            binary_id TEXT,
            binary_name TEXT,
            engine TEXT,
            started_at TEXT NOT NULL,
            duration_us INTEGER NOT NULL,
            success INTEGER NOT NULL,
            error_kind TEXT,
            error_message TEXT,
            return_code INTEGER,
            fuel_limit INTEGER,
            fuel_consumed INTEGER,
            event_count INTEGER NOT NULL,
            events_json TEXT NOT NULL
        );
        CREATE INDEX traces_started_at ON traces(started_at);
        CREATE INDEX traces_binary_started_at ON traces(binary_id, started_at);
        """,
    )


MIGRATIONS: tuple[Migration, ...] = (m001_initial,)


def applied_migrations(conn: sqlite3.Connection) -> set[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; their names."""
    if not _pending(conn):
        return []
    applied_now = []
    # BEGIN IMMEDIATE takes the write lock first, so two processes opening a new home at
    # the same time cannot both apply the same migration.
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = applied_migrations(conn)
        for migration in MIGRATIONS:
            if migration.__name__ in done:
                continue
            migration(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (migration.__name__, datetime.now(timezone.utc).isoformat()),
            )
            applied_now.append(migration.__name__)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return applied_now


def _pending(conn: sqlite3.Connection) -> list[str]:
    done = applied_migrations(conn)
    return [m.__name__ for m in MIGRATIONS if m.__name__ not in done]
