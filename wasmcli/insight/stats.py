"""Statistics over many runs: `traces stats`, the dashboard's numbers, CI exports.

One pass over the trace summaries (`traces` rows: never the event bodies) collects, per
group, the outcome counts and the durations, fuel and output sizes; the percentiles are
then exact over the selected traces, by the nearest-rank method (percentiles.py).

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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from wasmcli.insight.percentiles import PERCENTILE_METHOD, percentile
from wasmcli.return_codes import return_code_name
from wasmcli.store.traces import TraceFilter

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
        from wasmcli.tracing.events import format_utc

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


# -- collecting -------------------------------------------------------------------------

_COLUMNS = (
    "binary_id, binary_name, engine, started_at, duration_us, success, error_kind,"
    " return_code, fuel_consumed, output_bytes"
)


@dataclass
class _Accumulator:
    label: str
    runs: int = 0
    succeeded: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    durations: list[int] = field(default_factory=list)
    fuel: list[int] = field(default_factory=list)
    output_runs: int = 0
    output_total: int = 0
    output_max: int | None = None
    first: str | None = None
    last: str | None = None

    def add(self, row: tuple[Any, ...]) -> None:
        _, _, _, started_at, duration_us, success, error_kind, return_code, fuel, output = row
        self.runs += 1
        if success:
            self.succeeded += 1
        else:
            self.kinds[error_kind or "unknown"] += 1
            if return_code is not None and return_code != 0:
                self.codes[return_code_name(return_code) or str(return_code)] += 1
        self.durations.append(duration_us)
        if fuel is not None:
            self.fuel.append(fuel)
        if output is not None:
            self.output_runs += 1
            self.output_total += output
            if self.output_max is None or output > self.output_max:
                self.output_max = output
        # ISO-8601 UTC text with a fixed width sorts as time does.
        if self.first is None or started_at < self.first:
            self.first = started_at
        if self.last is None or started_at > self.last:
            self.last = started_at

    def merge(self, other: _Accumulator) -> None:
        self.runs += other.runs
        self.succeeded += other.succeeded
        self.kinds.update(other.kinds)
        self.codes.update(other.codes)
        self.durations.extend(other.durations)
        self.fuel.extend(other.fuel)
        self.output_runs += other.output_runs
        self.output_total += other.output_total
        if other.output_max is not None:
            self.output_max = max(self.output_max or 0, other.output_max)
        for moment in (other.first, other.last):
            if moment is not None:
                self.first = moment if self.first is None else min(self.first, moment)
                self.last = moment if self.last is None else max(self.last, moment)

    def finish(
        self, key: str | None, edges: tuple[int, ...], fuel_edges: tuple[int, ...]
    ) -> GroupStats:
        from wasmcli.tracing.events import parse_utc

        self.durations.sort()
        self.fuel.sort()
        durations, fuel = self.durations, self.fuel
        return GroupStats(
            key=key,
            label=self.label,
            runs=self.runs,
            succeeded=self.succeeded,
            failures_by_error_kind=dict(self.kinds.most_common()),
            failures_by_return_code=dict(self.codes.most_common()),
            duration=DurationStats(
                p50=percentile(durations, 50),
                p90=percentile(durations, 90),
                p99=percentile(durations, 99),
                max=durations[-1] if durations else None,
            ),
            fuel=FuelStats(
                runs=len(fuel),
                p50=percentile(fuel, 50),
                p90=percentile(fuel, 90),
                max=fuel[-1] if fuel else None,
            ),
            output=OutputStats(self.output_runs, self.output_total, self.output_max),
            first_started_at=parse_utc(self.first) if self.first else None,
            last_started_at=parse_utc(self.last) if self.last else None,
            duration_histogram=histogram(durations, edges),
            fuel_histogram=histogram(fuel, fuel_edges),
        )


def summary_rows(
    conn: sqlite3.Connection, query: TraceFilter | None = None
) -> Iterable[tuple[Any, ...]]:
    """The summary columns stats need, one tuple per selected trace (newest first when
    the query has a limit; in storage order otherwise)."""
    query = query or TraceFilter()
    where, params = query.where()
    sql = f"SELECT {_COLUMNS} FROM traces{where}"
    if query.limit is not None:
        sql += " ORDER BY started_at DESC, seq DESC LIMIT ?"
        params.append(query.limit)
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples: a third of the cost of sqlite3.Row
    cursor.execute(sql, params)
    cursor.arraysize = 4096
    while True:
        batch = cursor.fetchmany()
        if not batch:
            return
        yield from batch


def trace_stats(
    conn: sqlite3.Connection, query: TraceFilter | None = None, by: GroupBy | None = None
) -> StatsReport:
    """Statistics of the traces `query` selects, per group of `by` and in total."""
    groups: dict[str, _Accumulator] = {}
    key_of = _grouping(by)
    for row in summary_rows(conn, query):
        key, label = key_of(row)
        accumulator = groups.get(key)
        if accumulator is None:
            accumulator = groups[key] = _Accumulator(label)
        elif by is GroupBy.BINARY and row[1] and row[3] > (accumulator.last or ""):
            accumulator.label = _binary_label(row)  # the newest run's name
        accumulator.add(row)
    total = _Accumulator("all runs")
    for accumulator in groups.values():
        total.merge(accumulator)
    total.durations.sort()
    total.fuel.sort()
    edges = histogram_edges(total.durations)
    fuel_edges = histogram_edges(total.fuel)
    if by is GroupBy.BINARY:
        _disambiguate(groups)
    finished = [accumulator.finish(key, edges, fuel_edges) for key, accumulator in groups.items()]
    return StatsReport(
        by=by,
        total=total.finish(None, edges, fuel_edges),
        groups=tuple(sorted(finished, key=_order(by))),
        histogram_edges_us=edges,
        fuel_histogram_edges=fuel_edges,
    )


# -- grouping ---------------------------------------------------------------------------


def _grouping(by: GroupBy | None) -> Any:
    if by is None:
        return lambda row: ("all", "all runs")
    if by is GroupBy.BINARY:
        return lambda row: (row[0] or f"name:{row[1] or ''}", _binary_label(row))
    if by is GroupBy.ENGINE:
        return lambda row: (row[2] or "unknown", row[2] or "unknown")
    if by is GroupBy.ERROR_KIND:
        return lambda row: _kind_key(row)
    return _LocalTimeKey(13 if by is GroupBy.HOUR else 10)


def _binary_label(row: tuple[Any, ...]) -> str:
    name, binary_id = row[1], row[0]
    return name or (binary_id[:8] if binary_id else "unknown")


def _disambiguate(groups: dict[str, _Accumulator]) -> None:
    """Binaries are shown by name; two that share one get their short ids too."""
    named = Counter(accumulator.label for accumulator in groups.values())
    for key, accumulator in groups.items():
        if named[accumulator.label] > 1 and not key.startswith("name:"):
            accumulator.label = f"{accumulator.label} ({key[:8]})"


def _kind_key(row: tuple[Any, ...]) -> tuple[str, str]:
    if row[5]:
        return "ok", "ok"
    kind = row[6] or "unknown"
    return kind, kind


class _LocalTimeKey:
    """The local day ('2026-11-26') or hour ('2026-11-26 22:00') a run started in.

    Local time, as the CLI shows times; each distinct minute is converted once (every
    time zone's offset is a whole number of minutes).
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.cache: dict[str, tuple[str, str]] = {}

    def __call__(self, row: tuple[Any, ...]) -> tuple[str, str]:
        minute = row[3][:16]
        found = self.cache.get(minute)
        if found is None:
            moment = datetime.fromisoformat(minute).replace(tzinfo=timezone.utc).astimezone()
            text = moment.strftime("%Y-%m-%d %H:00" if self.width == 13 else "%Y-%m-%d")
            found = self.cache[minute] = (text, text)
        return found


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
