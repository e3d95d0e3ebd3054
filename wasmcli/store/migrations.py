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


def m002_trace_summaries(conn: sqlite3.Connection) -> None:
    """Traces at scale: a compact summary row per trace, its events in a table of their own.

    Listing and statistics read only the summaries (a few hundred bytes a row), never the
    event bodies. Summaries carry what stats need as columns (output size, stored size,
    a batch id); `trace_totals` keeps the count and the stored bytes up to date through
    triggers, so retention needs no scan.
    """
    conn.execute("ALTER TABLE traces RENAME TO traces_m001")
    _execute_all(
        conn,
        """
        CREATE TABLE traces (
            seq INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL UNIQUE,
            batch_id TEXT,
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
            output_bytes INTEGER,
            output_lines INTEGER,
            output_bytes_cut INTEGER,
            trace_bytes INTEGER NOT NULL
        );
        CREATE TABLE trace_events (
            seq INTEGER PRIMARY KEY REFERENCES traces(seq) ON DELETE CASCADE,
            events_json TEXT NOT NULL
        );
        CREATE TABLE trace_totals (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            count INTEGER NOT NULL,
            bytes INTEGER NOT NULL
        );
        INSERT INTO trace_totals (id, count, bytes) VALUES (1, 0, 0)
        """,
    )
    conn.execute(
        "CREATE TRIGGER traces_counted AFTER INSERT ON traces BEGIN"
        " UPDATE trace_totals SET count = count + 1, bytes = bytes + NEW.trace_bytes"
        " WHERE id = 1; END"
    )
    conn.execute(
        "CREATE TRIGGER traces_uncounted AFTER DELETE ON traces BEGIN"
        " UPDATE trace_totals SET count = count - 1, bytes = bytes - OLD.trace_bytes"
        " WHERE id = 1; END"
    )
    _execute_all(
        conn,
        """
        INSERT INTO traces (trace_id, binary_id, binary_name, engine, started_at, duration_us,
            success, error_kind, error_message, return_code, fuel_limit, fuel_consumed,
            event_count, trace_bytes)
        SELECT trace_id, binary_id, binary_name, engine, started_at, duration_us, success,
            error_kind, error_message, return_code, fuel_limit, fuel_consumed, event_count,
            length(CAST(events_json AS BLOB)) + coalesce(length(CAST(error_message AS BLOB)), 0)
        FROM traces_m001 ORDER BY started_at, rowid;
        INSERT INTO trace_events (seq, events_json)
        SELECT traces.seq, traces_m001.events_json
        FROM traces JOIN traces_m001 ON traces_m001.trace_id = traces.trace_id;
        DROP TABLE traces_m001;
        CREATE INDEX traces_started_at ON traces(started_at);
        CREATE INDEX traces_binary_started_at ON traces(binary_id, started_at);
        CREATE INDEX traces_name_started_at ON traces(binary_name, started_at);
        CREATE INDEX traces_success_started_at ON traces(success, started_at);
        CREATE INDEX traces_batch_started_at ON traces(batch_id, started_at)
            WHERE batch_id IS NOT NULL
        """,
    )


def m003_alert_state(conn: sqlite3.Connection) -> None:
    """Alerts: which firing episode of each rule was last announced by a run and last
    reported as new by `alerts check`, so separate invocations agree on what is new.

    An episode is known by when it started (`*_since`, ISO-8601 UTC); `rule_hash`
    changes with the rule's definition, and a changed rule starts afresh.
    """
    conn.execute(
        """
        CREATE TABLE alert_state (
            name TEXT PRIMARY KEY,
            rule_hash TEXT NOT NULL,
            announced_since TEXT,
            checked_since TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )


MIGRATIONS: tuple[Migration, ...] = (m001_initial, m002_trace_summaries, m003_alert_state)


def applied_migrations(conn: sqlite3.Connection) -> set[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def pending_migrations(conn: sqlite3.Connection) -> list[str]:
    """The migrations not applied yet, without writing anything (a read-only home)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")} if exists else set()
    return [m.__name__ for m in MIGRATIONS if m.__name__ not in done]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; their names."""
    if not pending_migrations(conn):
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
