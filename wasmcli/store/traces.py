"""Trace persistence in wasmcli.db: one row per run, its events as JSON.

One INSERT per run keeps the cost of tracing to a single small transaction; retention
(newest N kept) runs in the same transaction, so the table never exceeds N rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.db import Transaction
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, format_utc, parse_utc


@dataclass(frozen=True)
class TraceFilter:
    """Which traces a list/export/clear applies to; None means no constraint."""

    binary_id: str | None = None
    binary_name: str | None = None  # for files run by path and never registered
    since: datetime | None = None
    until: datetime | None = None
    success: bool | None = None  # True: succeeded only, False: failed only
    limit: int | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.binary_id is not None:
            clauses.append("binary_id = ?")
            params.append(self.binary_id)
        if self.binary_name is not None:
            clauses.append("binary_name = ?")
            params.append(self.binary_name)
        if self.since is not None:
            clauses.append("started_at >= ?")
            params.append(format_utc(self.since))
        if self.until is not None:
            clauses.append("started_at <= ?")
            params.append(format_utc(self.until))
        if self.success is not None:
            clauses.append("success = ?")
            params.append(1 if self.success else 0)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


_NEWEST_FIRST = " ORDER BY started_at DESC, rowid DESC"


class TraceStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def save(self, trace: ExecutionTrace, max_traces: int) -> None:
        """Store a trace and drop the oldest beyond `max_traces` (0 keeps none)."""
        events = json.dumps([event.to_dict() for event in trace.events], ensure_ascii=False)
        with Transaction(self.conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO traces (trace_id, binary_id, binary_name, engine,"
                " started_at, duration_us, success, error_kind, error_message, return_code,"
                " fuel_limit, fuel_consumed, event_count, events_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    trace.trace_id,
                    trace.binary_id,
                    trace.binary_name,
                    trace.engine,
                    format_utc(trace.started_at),
                    trace.duration_us,
                    1 if trace.success else 0,
                    trace.error_kind,
                    trace.error_message,
                    trace.return_code,
                    trace.fuel_limit,
                    trace.fuel_consumed,
                    len(trace.events),
                    events,
                ),
            )
            conn.execute(
                "DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM traces"
                + _NEWEST_FIRST
                + " LIMIT -1 OFFSET ?)",
                (max(max_traces, 0),),
            )

    def list(
        self, query: TraceFilter | None = None, with_events: bool = True
    ) -> list[ExecutionTrace]:
        """Matching traces, newest first."""
        where, params = (query or TraceFilter()).where()
        sql = "SELECT * FROM traces" + where + _NEWEST_FIRST
        if query is not None and query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return [_trace(row, with_events) for row in self.conn.execute(sql, params).fetchall()]

    def get(self, ref: str) -> ExecutionTrace:
        """A trace by full id or unique prefix; a usage error when none or several match."""
        ref = ref.strip().lower()
        if not ref or not re.fullmatch(r"[0-9a-f-]+", ref):
            raise WasmcliError(ErrorKind.USAGE, f"No trace matches {ref!r}")
        rows = self.conn.execute(
            "SELECT * FROM traces WHERE trace_id LIKE ?" + _NEWEST_FIRST + " LIMIT 6",
            (ref + "%",),
        ).fetchall()
        exact = [row for row in rows if row["trace_id"] == ref]
        if exact:
            return _trace(exact[0], True)
        if not rows:
            raise WasmcliError(ErrorKind.USAGE, f"No trace matches {ref!r}")
        if len(rows) > 1:
            shown = ", ".join(row["trace_id"][:12] for row in rows[:5])
            raise WasmcliError(
                ErrorKind.USAGE, f"Ambiguous trace id prefix {ref!r}: matches {shown}"
            )
        return _trace(rows[0], True)

    def latest(self) -> ExecutionTrace | None:
        rows = self.list(TraceFilter(limit=1))
        return rows[0] if rows else None

    def delete(self, query: TraceFilter | None = None) -> int:
        """Delete matching traces (all when no filter); how many were deleted."""
        where, params = (query or TraceFilter()).where()
        sql = "SELECT trace_id FROM traces" + where + _NEWEST_FIRST
        if query is not None and query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        with Transaction(self.conn) as conn:
            cursor = conn.execute(f"DELETE FROM traces WHERE trace_id IN ({sql})", params)
            return cursor.rowcount

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM traces").fetchone()[0])


def _trace(row: sqlite3.Row, with_events: bool) -> ExecutionTrace:
    events: tuple[TraceEvent, ...] = ()
    if with_events:
        events = tuple(TraceEvent.from_dict(e) for e in json.loads(row["events_json"]))
    return ExecutionTrace(
        trace_id=row["trace_id"],
        binary_id=row["binary_id"],
        binary_name=row["binary_name"],
        engine=row["engine"],
        started_at=parse_utc(row["started_at"]),
        duration_us=row["duration_us"],
        success=bool(row["success"]),
        error_kind=row["error_kind"],
        error_message=row["error_message"],
        return_code=row["return_code"],
        fuel_limit=row["fuel_limit"],
        fuel_consumed=row["fuel_consumed"],
        events=events,
    )
