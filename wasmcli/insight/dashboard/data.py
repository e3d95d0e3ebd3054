"""What the dashboard shows, gathered from the trace summaries; events are read only for
the runs it lists (each gets a page with its timeline).

Its numbers come from `insight.stats` (the same report as `traces stats --json
--by binary`), so the page and the CLI always agree.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from wasmcli.insight.stats import GroupBy, StatsReport, trace_stats
from wasmcli.store.traces import TraceFilter, TraceStore
from wasmcli.tracing.events import ExecutionTrace, parse_utc

TOP_RUNS: Final = 10  # slowest and most fuel-hungry
RECENT_FAILURES: Final = 20
LATEST_RUNS: Final = 20
OK: Final = "ok"

# Bucket sizes for "runs over time", the smallest that keeps the bars under MAX_BUCKETS.
_BUCKETS: Final = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(weeks=1),
    timedelta(days=30),
)
MAX_BUCKETS: Final = 60


@dataclass(frozen=True)
class TimeBucket:
    start: datetime  # aware UTC
    counts: dict[str, int]  # outcome ("ok" or an error kind) -> runs


@dataclass(frozen=True)
class RunsOverTime:
    bucket: timedelta
    buckets: tuple[TimeBucket, ...]
    outcomes: tuple[str, ...]  # "ok" first, then error kinds by frequency


@dataclass(frozen=True)
class DashboardData:
    generated_at: datetime
    filters: dict[str, Any]
    stats: StatsReport  # by binary
    over_time: RunsOverTime
    slowest: tuple[ExecutionTrace, ...]
    hungriest: tuple[ExecutionTrace, ...]
    recent_failures: tuple[ExecutionTrace, ...]
    latest: tuple[ExecutionTrace, ...]
    pages: tuple[ExecutionTrace, ...]  # every run listed above, with events: a page each


def _selection(query: TraceFilter) -> tuple[str, list[Any]]:
    """The selected traces as a subquery (the newest `limit` when there is one)."""
    where, params = query.where()
    sql = f"SELECT * FROM traces{where}"
    if query.limit is not None:
        sql += " ORDER BY started_at DESC, seq DESC LIMIT ?"
        params.append(query.limit)
    return f"({sql})", params


def _top(
    store: TraceStore, query: TraceFilter, order: str, extra: str = "", count: int = TOP_RUNS
) -> list[str]:
    selection, params = _selection(query)
    sql = f"SELECT trace_id FROM {selection}{extra} ORDER BY {order} LIMIT ?"
    rows = store.conn.execute(sql, [*params, count]).fetchall()
    return [row[0] for row in rows]


def runs_over_time(conn: sqlite3.Connection, query: TraceFilter) -> RunsOverTime:
    selection, params = _selection(query)
    cursor = conn.cursor()
    cursor.row_factory = None
    cursor.execute(f"SELECT started_at, success, error_kind FROM {selection}", params)
    runs: list[tuple[datetime, str]] = []
    for started_at, success, error_kind in cursor:
        runs.append((parse_utc(started_at), OK if success else (error_kind or "unknown")))
    if not runs:
        return RunsOverTime(_BUCKETS[0], (), ())
    first = min(moment for moment, _ in runs)
    last = max(moment for moment, _ in runs)
    span = last - first
    bucket = next((b for b in _BUCKETS if span / b < MAX_BUCKETS), _BUCKETS[-1])
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    origin = epoch + ((first - epoch) // bucket) * bucket
    counts: dict[int, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for moment, outcome in runs:
        counts.setdefault((moment - origin) // bucket, Counter())[outcome] += 1
        totals[outcome] += 1
    size = (last - origin) // bucket + 1
    buckets = tuple(
        TimeBucket(origin + index * bucket, dict(counts.get(index, {}))) for index in range(size)
    )
    kinds = [name for name, _ in totals.most_common() if name != OK]
    return RunsOverTime(bucket, buckets, tuple([OK] * (OK in totals) + kinds))


def gather(conn: sqlite3.Connection, query: TraceFilter, filters: dict[str, Any]) -> DashboardData:
    store = TraceStore(conn)
    stats = trace_stats(conn, query, GroupBy.BINARY)
    slowest = _top(store, query, "duration_us DESC, started_at DESC")
    hungriest = _top(
        store, query, "fuel_consumed DESC, started_at DESC", " WHERE fuel_consumed IS NOT NULL"
    )
    failures = _top(
        store, query, "started_at DESC, seq DESC", " WHERE success = 0", RECENT_FAILURES
    )
    latest = _top(store, query, "started_at DESC, seq DESC", count=LATEST_RUNS)
    listed: dict[str, ExecutionTrace] = {}
    for trace_id in [*latest, *failures, *slowest, *hungriest]:
        if trace_id not in listed:
            listed[trace_id] = store.get(trace_id)
    return DashboardData(
        generated_at=datetime.now(timezone.utc),
        filters=filters,
        stats=stats,
        over_time=runs_over_time(conn, query),
        slowest=tuple(listed[i] for i in slowest),
        hungriest=tuple(listed[i] for i in hungriest),
        recent_failures=tuple(listed[i] for i in failures),
        latest=tuple(listed[i] for i in latest),
        pages=tuple(listed.values()),
    )
