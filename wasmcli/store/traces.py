"""Trace persistence in wasmcli.db: a summary row per run, its events as JSON beside it.

Listing and counting read only the summaries (`traces`), never the event bodies
(`trace_events`), through indexed queries; so `traces list` costs the same with 100 or
100,000 traces stored. One transaction per save writes both rows and applies
retention: the newest `max_traces` are kept, and the oldest go first while the stored
bytes exceed `max_bytes`. `trace_totals` (kept by triggers) says when to prune, so a
save never scans the table.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.safe_text import fs_text
from wasmcli.store.db import DOCTOR_HINT, Transaction
from wasmcli.store.ids import (
    MIN_ID_PREFIX,
    candidates_text,
    is_id_text,
    prefix_range,
    too_short_hint,
)
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, format_utc, parse_utc


@dataclass(frozen=True)
class TraceFilter:
    """Which traces a list/export/clear applies to; None means no constraint."""

    binary_id: str | None = None
    binary_name: str | None = None  # for files run by path and never registered
    since: datetime | None = None
    until: datetime | None = None
    success: bool | None = None  # True: succeeded only, False: failed only
    limit: int | None = None  # None: all
    batch_id: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """A WHERE clause each of whose terms an index of `traces` serves."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("binary_id", self.binary_id),
            ("binary_name", self.binary_name),
            ("batch_id", self.batch_id),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
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

    @property
    def filtered(self) -> bool:
        """Whether any constraint besides the limit applies."""
        return any(
            value is not None
            for value in (
                self.binary_id,
                self.binary_name,
                self.batch_id,
                self.since,
                self.until,
                self.success,
            )
        )


# The summary: everything but the event bodies. Stats read these columns only.
_SUMMARY = (
    "traces.seq, trace_id, batch_id, binary_id, binary_name, engine, started_at, duration_us,"
    " success, error_kind, error_message, return_code, fuel_limit, fuel_consumed, event_count,"
    " output_bytes, output_lines, output_bytes_cut, trace_bytes"
)
_WITH_EVENTS = " LEFT JOIN trace_events ON trace_events.seq = traces.seq"
_NEWEST_FIRST = " ORDER BY started_at DESC, traces.seq DESC"
_OLDEST_FIRST = " ORDER BY started_at, seq"


class TraceStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- writing --------------------------------------------------------------------

    def save(self, trace: ExecutionTrace, max_traces: int, max_bytes: int | None = None) -> bool:
        """Store a trace, then drop the oldest beyond `max_traces` (0 keeps none) and while
        the stored bytes exceed `max_bytes`; whether this trace is still kept."""
        return trace.trace_id in self.save_many([trace], max_traces, max_bytes)

    def save_many(
        self,
        traces: Sequence[ExecutionTrace],
        max_traces: int,
        max_bytes: int | None = None,
    ) -> set[str]:
        """Store traces in one transaction (a batch saves many at once), then apply
        retention as `save` does; the ids of those still kept."""
        if not traces:
            return set()
        if len({trace.trace_id for trace in traces}) < len(traces):  # the last one counts
            last = {trace.trace_id: index for index, trace in enumerate(traces)}
            traces = [trace for index, trace in enumerate(traces) if last[trace.trace_id] == index]
        with Transaction(self.conn) as conn:
            # Saving a trace again replaces it (a library user may re-save a trace).
            conn.executemany(
                "DELETE FROM traces WHERE trace_id = ?", [(t.trace_id,) for t in traces]
            )
            # Each statement runs once for the whole group (a batch saves hundreds at
            # once), so the rows' seq is chosen here, as SQLite would choose it: the write
            # lock is held since BEGIN IMMEDIATE, so no other writer can take these.
            (newest,) = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM traces").fetchone()
            rows = [_row(seq, trace) for seq, trace in enumerate(traces, start=newest + 1)]
            conn.executemany(
                "INSERT INTO traces (seq, trace_id, batch_id, binary_id, binary_name, engine,"
                " started_at, duration_us, success, error_kind, error_message, return_code,"
                " fuel_limit, fuel_consumed, event_count, output_bytes, output_lines,"
                " output_bytes_cut, trace_bytes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row for row, _ in rows],
            )
            conn.executemany(
                "INSERT INTO trace_events (seq, events_json) VALUES (?, ?)",
                [(row[0], events_json) for row, events_json in rows],
            )
            self._prune(conn, max_traces, max_bytes)
            still_there = {
                row[0] for row in conn.execute("SELECT seq FROM traces WHERE seq > ?", (newest,))
            }
        return {row[1] for row, _ in rows if row[0] in still_there}  # seq, trace_id

    def _prune(self, conn: sqlite3.Connection, max_traces: int, max_bytes: int | None) -> None:
        count, total = self.totals()
        excess = count - max(max_traces, 0)
        if excess > 0:
            conn.execute(
                "DELETE FROM traces WHERE seq IN (SELECT seq FROM traces"
                + _OLDEST_FIRST
                + " LIMIT ?)",
                (excess,),
            )
            count, total = self.totals()
        if max_bytes is None or total <= max_bytes:
            return
        doomed: list[tuple[int]] = []
        freed = 0
        cursor = conn.execute("SELECT seq, trace_bytes FROM traces" + _OLDEST_FIRST)
        for row in cursor:  # oldest first, only as far as needed
            doomed.append((row[0],))
            freed += row[1]
            if total - freed <= max_bytes:
                break
        cursor.close()
        conn.executemany("DELETE FROM traces WHERE seq = ?", doomed)

    def delete(self, query: TraceFilter | None = None) -> int:
        """Delete matching traces (all when no filter); how many were deleted."""
        query = query or TraceFilter()
        where, params = query.where()
        sql = "SELECT seq FROM traces" + where
        if query.limit is not None:
            sql += _NEWEST_FIRST + " LIMIT ?"
            params.append(query.limit)
        with Transaction(self.conn) as conn:
            cursor = conn.execute(f"DELETE FROM traces WHERE seq IN ({sql})", params)
            return int(cursor.rowcount)

    def delete_ids(self, trace_ids: Iterable[str]) -> int:
        """Delete the traces with these full ids; how many were deleted."""
        with Transaction(self.conn) as conn:
            cursor = conn.executemany(
                "DELETE FROM traces WHERE trace_id = ?", [(trace_id,) for trace_id in trace_ids]
            )
            return int(cursor.rowcount)

    # -- reading --------------------------------------------------------------------

    def iter(
        self, query: TraceFilter | None = None, with_events: bool = True
    ) -> Iterator[ExecutionTrace]:
        """Matching traces, newest first, read one at a time (memory stays flat)."""
        query = query or TraceFilter()
        where, params = query.where()
        columns = _SUMMARY + (", events_json" if with_events else "")
        sql = f"SELECT {columns} FROM traces" + (_WITH_EVENTS if with_events else "") + where
        sql += _NEWEST_FIRST
        if query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        for row in self.conn.execute(sql, params):
            yield _trace(row, with_events)

    def list(
        self, query: TraceFilter | None = None, with_events: bool = True
    ) -> list[ExecutionTrace]:
        """Matching traces, newest first."""
        return list(self.iter(query, with_events))

    def count(self, query: TraceFilter | None = None) -> int:
        """How many traces match (the limit aside)."""
        if query is None or not query.filtered:
            return self.totals()[0]
        where, params = query.where()
        return int(self.conn.execute("SELECT count(*) FROM traces" + where, params).fetchone()[0])

    def totals(self) -> tuple[int, int]:
        """How many traces are stored, and their stored size in bytes."""
        row = self.conn.execute("SELECT count, bytes FROM trace_totals WHERE id = 1").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def get(self, ref: str) -> ExecutionTrace:
        """A trace by full id or unique prefix; a usage error when none or several match."""
        ref = ref.strip().lower()
        sql = f"SELECT {_SUMMARY}, events_json FROM traces{_WITH_EVENTS}"
        row = self.conn.execute(sql + " WHERE trace_id = ?", (ref,)).fetchone()
        if row is not None:
            return _trace(row, True)
        return _trace(self._by_prefix(ref, sql), True)

    def resolve_ids(self, refs: Iterable[str]) -> builtins.list[str]:
        """The full ids of these references (ids or unique prefixes), in order, once each."""
        found: dict[str, None] = {}
        for ref in refs:
            ref = ref.strip().lower()
            exact = self.conn.execute("SELECT trace_id FROM traces WHERE trace_id = ?", (ref,))
            row = exact.fetchone() or self._by_prefix(ref, "SELECT trace_id FROM traces")
            found[row["trace_id"]] = None
        return list(found)

    def _by_prefix(self, ref: str, select: str) -> sqlite3.Row:
        if not ref or not is_id_text(ref) or len(ref) < MIN_ID_PREFIX:
            raise WasmcliError(ErrorKind.USAGE, f"No trace matches {ref!r}{too_short_hint(ref)}")
        low, high = prefix_range(ref)
        where = " WHERE trace_id >= ? AND trace_id < ?"
        rows = self.conn.execute(select + where + " LIMIT 2", (low, high)).fetchall()
        if not rows:
            raise WasmcliError(ErrorKind.USAGE, f"No trace matches {ref!r}")
        if len(rows) > 1:
            total = self.conn.execute(
                "SELECT count(*) FROM traces" + where, (low, high)
            ).fetchone()[0]
            candidates = self.conn.execute(
                "SELECT trace_id, binary_name, started_at FROM traces"
                + where
                + " ORDER BY trace_id LIMIT 5",
                (low, high),
            ).fetchall()
            labels = [
                f"{row['trace_id'][:13]} ({row['binary_name'] or 'unknown binary'}, "
                f"{str(row['started_at'])[:19].replace('T', ' ')})"
                for row in candidates
            ]
            raise WasmcliError(
                ErrorKind.USAGE,
                f"Ambiguous trace id prefix {ref!r}: matches {candidates_text(labels, total)};"
                " type more of the id",
            )
        row: sqlite3.Row = rows[0]
        return row

    def latest(self) -> ExecutionTrace | None:
        rows = self.list(TraceFilter(limit=1))
        return rows[0] if rows else None


# One encoder for every trace: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _row(seq: int, trace: ExecutionTrace) -> tuple[tuple[Any, ...], str]:
    """The `traces` row of a trace, and its events as JSON for `trace_events`."""
    events_json = _events_json(trace)
    error_message = trace.error_message
    try:
        size = stored_size(events_json, error_message)
    except UnicodeEncodeError:  # text from the command line that is not UTF-8 (see db)
        events_json = fs_text(events_json)
        error_message = None if error_message is None else fs_text(error_message)
        size = stored_size(events_json, error_message)
    row = (
        seq,
        trace.trace_id,
        trace.batch_id,
        trace.binary_id,
        trace.binary_name,
        trace.engine,
        format_utc(trace.started_at),
        trace.duration_us,
        1 if trace.success else 0,
        trace.error_kind,
        error_message,
        trace.return_code,
        trace.fuel_limit,
        trace.fuel_consumed,
        len(trace.events),
        trace.output_bytes,
        trace.output_lines,
        trace.output_bytes_cut,
        size,
    )
    return row, events_json


def _events_json(trace: ExecutionTrace) -> str:
    """The events as stored: compact JSON, and without an event's `binary_id` where it
    is the trace's (always, for a recorded trace: 80 of a small trace's 240 bytes per
    event); reading puts it back."""
    binary_id = trace.binary_id
    stored = []
    for event in trace.events:
        item = event.to_dict()
        if item["binary_id"] == binary_id:
            del item["binary_id"]
        stored.append(item)
    return _encode(stored)


def stored_size(events_json: str, error_message: str | None) -> int:
    """The bytes a trace takes in the database, as retention counts them."""
    return len(events_json.encode("utf-8")) + len((error_message or "").encode("utf-8"))


def _trace(row: sqlite3.Row, with_events: bool) -> ExecutionTrace:
    try:
        events: tuple[TraceEvent, ...] = ()
        if with_events:
            binary_id = _text(row["binary_id"])
            events = tuple(
                TraceEvent.from_dict({"binary_id": binary_id, **e})
                for e in json.loads(row["events_json"])
            )
        return ExecutionTrace(
            trace_id=str(row["trace_id"]),
            binary_id=_text(row["binary_id"]),
            binary_name=_text(row["binary_name"]),
            engine=_text(row["engine"]),
            started_at=parse_utc(row["started_at"]),
            duration_us=int(row["duration_us"]),
            success=bool(row["success"]),
            error_kind=_text(row["error_kind"]),
            error_message=_text(row["error_message"]),
            return_code=_integer(row["return_code"]),
            fuel_limit=_integer(row["fuel_limit"]),
            fuel_consumed=_integer(row["fuel_consumed"]),
            events=events,
            output_bytes=_integer(row["output_bytes"]),
            output_lines=_integer(row["output_lines"]),
            output_bytes_cut=_integer(row["output_bytes_cut"]),
            batch_id=row["batch_id"],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A row whose text no longer parses: the database was damaged under it.
        raise WasmcliError(
            ErrorKind.IO,
            f"trace {row['trace_id']!s} is damaged in the database ({type(exc).__name__}: "
            f"{exc}); {DOCTOR_HINT}, and `wasmcli doctor --fix` removes it",
        ) from None


# A damaged page can hand back a value of another type: such a row is reported as
# damaged here rather than failing later in the renderer.
def _integer(value: object) -> int | None:
    if value is None or isinstance(value, int):
        return value
    raise TypeError(f"expected a number, found {type(value).__name__}")


def _text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected text, found {type(value).__name__}")
