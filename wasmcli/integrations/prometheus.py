"""Prometheus metrics over the stored traces: `wasmcli metrics`.

    wasmcli_runs_total{binary,engine,outcome,error_kind}    runs, by outcome
    wasmcli_run_duration_seconds{binary}                     histogram of run durations
    wasmcli_run_fuel{binary}                                 histogram of fuel consumed
    wasmcli_last_run_timestamp_seconds{binary}               when the newest run started
    wasmcli_traces_stored                                    traces in the store

The figures are computed for each exposition (each scrape, with `--serve`) from the trace
summaries, by grouped SQL queries: never the event bodies, and no Python work per run.
They count the *stored* traces: retention keeps the newest WASMCLI_MAX_TRACES (100)
within WASMCLI_MAX_TRACE_BYTES (100 MiB), so `wasmcli_runs_total` counts the runs still
stored, and can fall when old ones are dropped (Prometheus reads a fall as a counter
reset). `outcome` is `ok` or `failed`; `error_kind` is the failed run's kind (`trap`,
`timeout`, ...; empty for `ok`). The fuel histogram counts the runs whose fuel is known
(an engine cannot tell it after a trap or a timeout, docs/design.md section 4).

Built with prometheus_client (a custom collector), imported when metrics are asked for.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from wasmcli.store.traces import TraceFilter
from wasmcli.tracing.events import parse_utc

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

# Durations: a run's default limit is 5 s; the buckets cover a warm run (a few ms) to
# long batch-style runs.
DURATION_BUCKETS_S: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
# Fuel: powers of ten, from a tiny plugin (hello uses 40) to the default limit (5e9) and
# past it.
FUEL_BUCKETS: Final = tuple(10**exponent for exponent in range(2, 13))
UNKNOWN: Final = "unknown"


def _selection(query: TraceFilter) -> tuple[str, list[Any]]:
    """The selected traces' summary columns as a CTE named `sel`."""
    where, params = query.where()
    sql = (
        "SELECT coalesce(binary_name, substr(binary_id, 1, 8), 'unknown') AS binary,"
        " coalesce(engine, 'unknown') AS engine, success,"
        " CASE WHEN success THEN '' ELSE coalesce(error_kind, 'unknown') END AS error_kind,"
        f" duration_us, fuel_consumed, started_at FROM traces{where}"
    )
    if query.limit is not None:
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        params.append(query.limit)
    return f"WITH sel AS ({sql}) ", params


def _rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cursor = conn.cursor()
    cursor.row_factory = None  # plain tuples
    return list(cursor.execute(sql, list(params)).fetchall())


def _le(bound: float) -> str:
    """A bucket's bound as prometheus_client writes its own (Go's float formatting)."""
    from prometheus_client import utils

    go_format: Callable[[float], str] = utils.floatToGoString
    return go_format(bound)


class TraceMetrics:
    """A prometheus_client collector: fresh figures from the database at every collect.

    `connect()` opens a connection for one collection; it is closed afterwards, so a
    long-running server holds no database open between scrapes.
    """

    def __init__(self, connect: Callable[[], sqlite3.Connection], query: TraceFilter) -> None:
        self.connect = connect
        self.query = query

    def collect(self) -> Iterator[Metric]:
        conn = self.connect()
        try:
            yield from self._metrics(conn)
        finally:
            conn.close()

    def _metrics(self, conn: sqlite3.Connection) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        cte, params = _selection(self.query)
        runs = CounterMetricFamily(
            "wasmcli_runs",
            "Runs among the stored traces (retention bounds them: WASMCLI_MAX_TRACES and "
            "WASMCLI_MAX_TRACE_BYTES), by binary, engine, outcome and error kind.",
            labels=["binary", "engine", "outcome", "error_kind"],
        )
        for binary, engine, success, error_kind, count in _rows(
            conn,
            cte + "SELECT binary, engine, success, error_kind, COUNT(*) FROM sel"
            " GROUP BY binary, engine, success, error_kind ORDER BY 1, 2, 3 DESC, 4",
            params,
        ):
            runs.add_metric([binary, engine, "ok" if success else "failed", error_kind], count)
        yield runs

        duration = HistogramMetricFamily(
            "wasmcli_run_duration_seconds",
            "Run durations among the stored traces, by binary.",
            labels=["binary"],
        )
        last_run = GaugeMetricFamily(
            "wasmcli_last_run_timestamp_seconds",
            "When the newest stored run of each binary started (unix time).",
            labels=["binary"],
        )
        bounds_us = [round(bound * 1_000_000) for bound in DURATION_BUCKETS_S]
        columns = ", ".join(f"SUM(duration_us <= {bound})" for bound in bounds_us)
        for binary, count, total_us, newest, *cumulative in _rows(
            conn,
            cte + f"SELECT binary, COUNT(*), TOTAL(duration_us), MAX(started_at), {columns}"
            " FROM sel GROUP BY binary ORDER BY binary",
            params,
        ):
            buckets = [(_le(b), n) for b, n in zip(DURATION_BUCKETS_S, cumulative, strict=True)]
            duration.add_metric(
                [binary], [*buckets, ("+Inf", count)], sum_value=total_us / 1_000_000
            )
            last_run.add_metric([binary], parse_utc(newest).timestamp())
        yield duration

        fuel = HistogramMetricFamily(
            "wasmcli_run_fuel",
            "Fuel consumed by the stored runs whose fuel is known, by binary.",
            labels=["binary"],
        )
        columns = ", ".join(f"SUM(fuel_consumed <= {bound})" for bound in FUEL_BUCKETS)
        for binary, count, total, *cumulative in _rows(
            conn,
            cte + f"SELECT binary, COUNT(*), TOTAL(fuel_consumed), {columns} FROM sel"
            " WHERE fuel_consumed IS NOT NULL GROUP BY binary ORDER BY binary",
            params,
        ):
            buckets = [(_le(b), n) for b, n in zip(FUEL_BUCKETS, cumulative, strict=True)]
            fuel.add_metric([binary], [*buckets, ("+Inf", count)], sum_value=total)
        yield fuel
        yield last_run

        stored = GaugeMetricFamily(
            "wasmcli_traces_stored",
            "Traces in the store (all of them, whatever the filters).",
        )
        stored.add_metric([], _rows(conn, "SELECT COUNT(*) FROM traces", ())[0][0])
        yield stored


def metrics_registry(
    connect: Callable[[], sqlite3.Connection], query: TraceFilter | None = None
) -> CollectorRegistry:
    """A registry holding only wasmcli's collector (no process or platform metrics: they
    would describe the short-lived `wasmcli metrics` process, not the runs)."""
    from prometheus_client.registry import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(TraceMetrics(connect, query or TraceFilter()))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format (0.0.4), as node_exporter's textfile collector reads it."""
    from prometheus_client.exposition import generate_latest

    return bytes(generate_latest(registry))
