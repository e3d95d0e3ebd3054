"""Statistics over many runs: `traces stats`, the dashboard's numbers, CI exports.

Read from the trace summaries (`traces` rows: never the event bodies): counts, sums and
failures by grouped SQL queries, then one pass over each run's duration and fuel, sorted
per group for percentiles that are exact over the selected traces, by the nearest-rank
method (percentiles.py), and for the histograms. (Ranking in SQL with window functions
costs more than sorting in Python: each one sorts the selection again.)

    report = trace_stats(conn, TraceFilter(binary_id=...), GroupBy.BINARY)
    report.total.duration.p99, [g.label for g in report.groups], report.to_dict()

Durations are integer microseconds, as traces store them; fuel counts only the runs whose
fuel is known (an engine cannot tell it after some faults: docs/design.md section 4).
"""

from __future__ import annotations

import enum
import math
import sqlite3
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wasmcli.insight.percentiles import PERCENTILE_METHOD, percentile
from wasmcli.return_codes import return_code_name
from wasmcli.store.traces import TraceFilter
from wasmcli.tracing.events import format_utc, parse_utc

HISTOGRAM_BINS = 12


class GroupBy(str, enum.Enum):
    BINARY = "binary"
    ENGINE = "engine"
    ERROR_KIND = "error_kind"
    DAY = "day"
    HOUR = "hour"


@dataclass(frozen=True)
class DurationStats:
    """Nearest-rank percentiles of the run durations, in microseconds."""

    p50: int | None = None
    p90: int | None = None
    p99: int | None = None
    max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            name: None if value is None else round(value / 1000, 3)
            for name, value in (
                ("p50", self.p50),
                ("p90", self.p90),
                ("p99", self.p99),
                ("max", self.max),
            )
        }


@dataclass(frozen=True)
class FuelStats:
    """Nearest-rank percentiles of the fuel consumed, over `runs` runs whose fuel is known."""

    runs: int = 0
    p50: int | None = None
    p90: int | None = None
    max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "p50": self.p50, "p90": self.p90, "max": self.max}


@dataclass(frozen=True)
class OutputStats:
    """Output sizes over `runs` runs whose size is recorded (older traces have none)."""

    runs: int = 0
    total: int = 0
    max: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "total": self.total, "max": self.max}


@dataclass(frozen=True)
class GroupStats:
    key: str | None  # None: the total over every selected run
    label: str
    runs: int
    succeeded: int
    failures_by_error_kind: dict[str, int]
    failures_by_return_code: dict[str, int]
    duration: DurationStats
    fuel: FuelStats
    output: OutputStats
    first_started_at: datetime | None
    last_started_at: datetime | None
    # Runs per bin of the report's histograms (StatsReport.histogram_edges_us and
    # fuel_histogram_edges).
    duration_histogram: tuple[int, ...] = ()
    fuel_histogram: tuple[int, ...] = ()

    @property
    def failed(self) -> int:
        return self.runs - self.succeeded

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.runs if self.runs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "runs": self.runs,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "success_rate": None if self.success_rate is None else round(self.success_rate, 6),
            "failures_by_error_kind": dict(self.failures_by_error_kind),
            "failures_by_return_code": dict(self.failures_by_return_code),
            "duration_ms": self.duration.to_dict(),
            "fuel": self.fuel.to_dict(),
            "output_bytes": self.output.to_dict(),
            "first_started_at": format_utc(self.first_started_at)
            if self.first_started_at
            else None,
            "last_started_at": format_utc(self.last_started_at) if self.last_started_at else None,
            "duration_histogram": list(self.duration_histogram),
            "fuel_histogram": list(self.fuel_histogram),
        }


@dataclass(frozen=True)
class StatsReport:
    by: GroupBy | None
    total: GroupStats
    groups: tuple[GroupStats, ...]
    # Bin i of every duration histogram counts the durations d with
    # edges[i] <= d < edges[i + 1] (the last bin includes its upper edge).
    histogram_edges_us: tuple[int, ...] = ()
    fuel_histogram_edges: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value if self.by else None,
            "percentile_method": PERCENTILE_METHOD,
            "total": self.total.to_dict(),
            "groups": [group.to_dict() for group in self.groups],
            "duration_histogram_edges_ms": [
                round(edge / 1000, 3) for edge in self.histogram_edges_us
            ],
        }


# -- computing --------------------------------------------------------------------------

# The group of a run, as SQL over a `traces` row. Days and hours are local time, as the
# CLI shows times (SQLite's 'localtime' is the C library's, which Python's follows).
_KEYS: dict[GroupBy | None, str] = {
    None: "'all'",
    GroupBy.BINARY: "coalesce(binary_id, 'name:' || coalesce(binary_name, ''))",
    GroupBy.ENGINE: "coalesce(engine, 'unknown')",
    GroupBy.ERROR_KIND: "CASE WHEN success THEN 'ok' ELSE coalesce(error_kind, 'unknown') END",
    GroupBy.DAY: "strftime('%Y-%m-%d', started_at, 'localtime')",
    GroupBy.HOUR: "strftime('%Y-%m-%d %H:00', started_at, 'localtime')",
}


class _Selection:
    """The selected traces as a CTE (`sel`, with the group key `k`), and queries on it."""

    def __init__(self, conn: sqlite3.Connection, query: TraceFilter, key: str) -> None:
        self.conn = conn
        where, params = query.where()
        sql = (
            f"SELECT {key} AS k, binary_name, started_at, duration_us, success, error_kind,"
            f" return_code, fuel_consumed, output_bytes FROM traces{where}"
        )
        if query.limit is not None:
            sql += " ORDER BY started_at DESC, seq DESC LIMIT ?"
            params.append(query.limit)
        self.cte = f"WITH sel AS ({sql}) "
        self.params = params

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        cursor.row_factory = None
        return list(cursor.execute(self.cte + sql, self.params).fetchall())

    def values(self) -> dict[str, tuple[list[int], list[int], str | None]]:
        """Each group's durations and known fuel amounts, sorted ascending, and the binary
        name of its newest run.

        SQLite joins each group's numbers into one text (group_concat skips NULLs), which
        Python splits and converts in C: no Python work per run. (A bare column beside a
        single max() comes from the row that holds the maximum.)
        """
        found: dict[str, tuple[list[int], list[int], str | None]] = {}
        for key, durations, fuel, _, name in self.rows(
            "SELECT k, group_concat(duration_us), group_concat(fuel_consumed),"
            " max(started_at), binary_name FROM sel GROUP BY k"
        ):
            found[key] = (_numbers(durations), _numbers(fuel), name)
        return found


def _numbers(joined: str | None) -> list[int]:
    numbers = list(map(int, joined.split(","))) if joined else []
    numbers.sort()
    return numbers


@dataclass
class _Group:
    key: str
    label: str
    runs: int = 0
    succeeded: int = 0
    first: str | None = None
    last: str | None = None
    output_runs: int = 0
    output_total: int = 0
    output_max: int | None = None
    kinds: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


def trace_stats(
    conn: sqlite3.Connection, query: TraceFilter | None = None, by: GroupBy | None = None
) -> StatsReport:
    """Statistics of the traces `query` selects, per group of `by` and in total."""
    selection = _Selection(conn, query or TraceFilter(), _KEYS[by])
    groups: dict[str, _Group] = {}
    for row in selection.rows(
        "SELECT k, count(*), sum(success), min(started_at), max(started_at),"
        " count(output_bytes), coalesce(sum(output_bytes), 0), max(output_bytes)"
        " FROM sel GROUP BY k"
    ):
        group = groups[row[0]] = _Group(row[0], _label(by, row[0]))
        group.runs, group.succeeded, group.first, group.last = row[1], row[2], row[3], row[4]
        group.output_runs, group.output_total, group.output_max = row[5], row[6], row[7]
    for key, kind, count in selection.rows(
        "SELECT k, coalesce(error_kind, 'unknown'), count(*) FROM sel WHERE NOT success"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 2"
    ):
        groups[key].kinds[kind] = count
    for key, code, count in selection.rows(
        "SELECT k, return_code, count(*) FROM sel WHERE NOT success AND return_code != 0"
        " GROUP BY 1, 2 ORDER BY 3 DESC, 2"
    ):
        groups[key].codes[return_code_name(code) or str(code)] += count
    values = selection.values()
    if by is GroupBy.BINARY:
        for key, (_, _, name) in values.items():
            groups[key].label = name or _label(by, key)  # the newest run's name
        _disambiguate(groups)
    every: tuple[list[int], list[int]] = ([], [])
    for durations, fuel, _ in values.values():
        every[0].extend(durations)
        every[1].extend(fuel)
    every[0].sort()
    every[1].sort()
    edges, fuel_edges = histogram_edges(every[0]), histogram_edges(every[1])
    total = _Group("", "all runs")
    for group in groups.values():
        _merge(total, group)

    def finish(group: _Group) -> GroupStats:
        durations, fuel = every if not group.key else values[group.key][:2]
        return GroupStats(
            key=group.key or None,
            label=group.label,
            runs=group.runs,
            succeeded=group.succeeded,
            failures_by_error_kind=dict(group.kinds.most_common()),
            failures_by_return_code=dict(group.codes.most_common()),
            duration=DurationStats(
                percentile(durations, 50),
                percentile(durations, 90),
                percentile(durations, 99),
                durations[-1] if durations else None,
            ),
            fuel=FuelStats(
                len(fuel),
                percentile(fuel, 50),
                percentile(fuel, 90),
                fuel[-1] if fuel else None,
            ),
            output=OutputStats(group.output_runs, group.output_total, group.output_max),
            first_started_at=parse_utc(group.first) if group.first else None,
            last_started_at=parse_utc(group.last) if group.last else None,
            duration_histogram=histogram(durations, edges),
            fuel_histogram=histogram(fuel, fuel_edges),
        )

    return StatsReport(
        by=by,
        total=finish(total),
        groups=tuple(sorted((finish(g) for g in groups.values()), key=_order(by))),
        histogram_edges_us=edges,
        fuel_histogram_edges=fuel_edges,
    )


def _merge(total: _Group, group: _Group) -> None:
    total.runs += group.runs
    total.succeeded += group.succeeded
    total.output_runs += group.output_runs
    total.output_total += group.output_total
    if group.output_max is not None:
        total.output_max = max(total.output_max or 0, group.output_max)
    for moment in (group.first, group.last):
        if moment is not None:
            # ISO-8601 UTC text of one width sorts as time does.
            total.first = moment if total.first is None else min(total.first, moment)
            total.last = moment if total.last is None else max(total.last, moment)
    total.kinds.update(group.kinds)
    total.codes.update(group.codes)


def _label(by: GroupBy | None, key: str) -> str:
    if by is None:
        return "all runs"
    if by is GroupBy.BINARY:
        return key[5:] if key.startswith("name:") else key[:8]
    return key


def _disambiguate(groups: dict[str, _Group]) -> None:
    """Binaries are shown by name; two that share one get their short ids too."""
    named = Counter(group.label for group in groups.values())
    for key, group in groups.items():
        if named[group.label] > 1 and not key.startswith("name:"):
            group.label = f"{group.label} ({key[:8]})"


def _order(by: GroupBy | None) -> Any:
    if by in (GroupBy.DAY, GroupBy.HOUR):
        return lambda group: group.key or ""
    # The biggest groups first; ties by label, so the order is stable.
    return lambda group: (-group.runs, group.label)


# -- histograms -------------------------------------------------------------------------


def histogram_edges(sorted_values: list[int], bins: int = HISTOGRAM_BINS) -> tuple[int, ...]:
    """`bins + 1` increasing edges spanning the values on a log scale (durations range
    over orders of magnitude); () when there are no values."""
    if not sorted_values:
        return ()
    low, high = max(sorted_values[0], 1), max(sorted_values[-1], 1)
    if high <= low:
        return (low, low + 1)
    ratio = (high / low) ** (1 / bins)
    edges = [low]
    for step in range(1, bins):
        edges.append(max(edges[-1] + 1, math.floor(low * ratio**step)))
    edges.append(max(edges[-1] + 1, high))
    return tuple(edges)


def histogram(sorted_values: list[int], edges: tuple[int, ...]) -> tuple[int, ...]:
    """How many of the sorted values fall in each bin of `edges` (values below the first
    edge count in the first bin; the last bin includes its upper edge)."""
    if len(edges) < 2:
        return ()
    counts = []
    previous = 0
    for index, edge in enumerate(edges[1:], start=1):
        last = index == len(edges) - 1
        position = len(sorted_values) if last else bisect_right(sorted_values, edge - 1)
        counts.append(position - previous)
        previous = position
    return tuple(counts)
