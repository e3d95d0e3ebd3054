"""Evaluating alert rules over the stored traces, and when each firing episode began.

A rule fires or not *now*; when it fires, its episode began at the run from which on it
has fired without a break:

- `count >= N within W` fires at time t while N matching runs started in (t - W, t]. The
  runs r_j .. r_{j+N-1} (newest first) keep it firing from r_j's start until r_{j+N-1}'s
  start + W; walking back while each such interval reaches the next one finds where the
  unbroken stretch began.
- `failure_rate >= P% over last N runs` is a function of the sequence of runs: walking
  back one run at a time, the episode began at the oldest run at which the rate over
  the N runs ending there was still at least P%.

Only the summary columns are read (never event bodies), newest first through the
`started_at` index, and only as far back as the episode reaches.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Final

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.insight.alerts.rules import AlertRule, CountCondition, RateCondition
from wasmcli.insight.refs import binary_scope
from wasmcli.store.alert_state import Episode
from wasmcli.store.registry import Registry
from wasmcli.tracing.events import ExecutionTrace, format_utc, parse_utc

# Trace ids an alert carries (the newest matching runs); `matching` says how many in all.
MAX_TRACE_IDS: Final = 100

_COLUMNS: Final = (
    "trace_id, started_at, success, error_kind, return_code, error_message,"
    " fuel_consumed, duration_us"
)


@dataclass(frozen=True)
class AlertStatus:
    rule: AlertRule
    firing: bool
    observed: float  # matching runs in the window, or the failure rate in %
    considered: int  # runs in the rate's window (count rules: the matching runs)
    matching: int  # matching runs in the window
    trace_ids: tuple[str, ...]  # the newest of them (at most MAX_TRACE_IDS)
    evaluated_at: datetime
    since: datetime | None = None  # when the firing episode began
    since_trace_id: str | None = None  # the run it began with
    new: bool = False  # set by the caller that announces it

    def episode(self) -> Episode | None:
        if not self.firing or self.since is None:
            return None
        return Episode(self.rule.name, self.rule.fingerprint(), self.since)

    def summary(self) -> str:
        """'3 matching runs within 1h', '3 of the last 4 runs match (75.0%)'."""
        condition = self.rule.condition
        if isinstance(condition, CountCondition):
            runs = f"{self.matching:,} matching run{'s' if self.matching != 1 else ''}"
            return f"{runs} within {_window(condition)}"
        return (
            f"{self.matching:,} of the last {self.considered:,} run"
            f"{'s' if self.considered != 1 else ''} match ({self.observed:.1f}%)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.rule.name,
            "firing": self.firing,
            "new": self.new,
            "condition": self.rule.condition.text,
            "filters": self.rule.filters(),
            "observed": round(self.observed, 3),
            "considered_runs": self.considered,
            "matching_runs": self.matching,
            "trace_ids": list(self.trace_ids),
            "since": format_utc(self.since) if self.since else None,
            "since_trace_id": self.since_trace_id,
            "evaluated_at": format_utc(self.evaluated_at),
            "summary": self.summary(),
        }


def _window(condition: CountCondition) -> str:
    seconds = int(condition.window.total_seconds())
    for size, unit in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Rows:
    """Runs read newest first, a batch at a time, as columns: ids, start times (ISO text,
    parsed only where a condition needs a time) and whether each matches the rule."""

    def __init__(self, batches: Iterator[tuple[Sequence[str], Sequence[str], list[bool]]]):
        self.batches = batches
        self.ids: list[str] = []
        self.started: list[str] = []
        self.hits: list[bool] = []

    def has(self, index: int) -> bool:
        while len(self.ids) <= index:
            batch = next(self.batches, None)
            if batch is None:
                return False
            self.ids.extend(batch[0])
            self.started.extend(batch[1])
            self.hits.extend(batch[2])
        return True

    def time(self, index: int) -> datetime:
        return parse_utc(self.started[index])


class AlertEvaluator:
    """Evaluates rules against one home's traces at one moment (`now`)."""

    def __init__(self, registry: Registry, now: datetime | None = None) -> None:
        self.registry = registry
        self.conn: sqlite3.Connection = registry.conn
        self.now = now or datetime.now(timezone.utc)
        self._scopes: dict[str, tuple[str | None, str | None]] = {}

    # -- which runs a rule looks at ----------------------------------------------------

    def scope(self, rule: AlertRule) -> tuple[str | None, str | None]:
        """(binary_id, binary_name) of the rule's binary; (None, None) for every binary."""
        if rule.binary is None:
            return None, None
        if rule.binary not in self._scopes:
            try:
                self._scopes[rule.binary] = binary_scope(self.registry, rule.binary)
            except WasmcliError as exc:
                raise WasmcliError(
                    ErrorKind.USAGE, f"alert {rule.name!r} (line {rule.line}): {exc.message}"
                ) from None
        return self._scopes[rule.binary]

    def concerns(self, rule: AlertRule, trace: ExecutionTrace) -> bool:
        """Whether `trace` is a run the rule looks at (and, for a count, one it counts)."""
        binary_id, binary_name = self.scope(rule)
        if binary_id is not None and trace.binary_id != binary_id:
            return False
        if binary_name is not None and trace.binary_name != binary_name:
            return False
        if isinstance(rule.condition, RateCondition):
            return True
        return matches(
            rule,
            rule.pattern,
            trace.success,
            trace.error_kind,
            trace.return_code,
            trace.error_message,
            trace.fuel_consumed,
            trace.duration_us,
        )

    def _rows(
        self, rule: AlertRule, matching_only: bool
    ) -> Iterator[tuple[Sequence[str], Sequence[str], list[bool]]]:
        clauses = ["started_at <= ?"]
        params: list[Any] = [format_utc(self.now)]
        binary_id, binary_name = self.scope(rule)
        for column, value in (("binary_id", binary_id), ("binary_name", binary_name)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if matching_only:  # what SQL can filter; the message is searched below
            for clause, value in _match_clauses(rule):
                clauses.append(clause)
                params.append(value)
        sql = (
            f"SELECT {_COLUMNS} FROM traces WHERE {' AND '.join(clauses)}"
            " ORDER BY started_at DESC, seq DESC"
        )
        pattern = rule.pattern
        # SQL has applied every filter but the message: without one, each row matches.
        sql_did_all = matching_only and pattern is None
        failures_only = rule.matches_failures_only
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql, params)
        cursor.arraysize = 4096
        while batch := cursor.fetchmany():  # a batch at a time: rules may read far back
            columns = list(zip(*batch, strict=True))
            if sql_did_all:
                hits = [True] * len(batch)
            elif failures_only:
                hits = [not success for success in columns[2]]
            else:
                hits = [matches(rule, pattern, bool(row[2]), *row[3:]) for row in batch]
            if matching_only and not all(hits):
                kept = [row for row, hit in zip(batch, hits, strict=True) if hit]
                if not kept:
                    continue
                columns, hits = list(zip(*kept, strict=True)), [True] * len(kept)
            yield columns[0], columns[1], hits

    # -- evaluating --------------------------------------------------------------------

    def evaluate(self, rule: AlertRule) -> AlertStatus:
        if isinstance(rule.condition, CountCondition):
            return self._count(rule, rule.condition)
        assert isinstance(rule.condition, RateCondition)
        return self._rate(rule, rule.condition)

    def _count(self, rule: AlertRule, condition: CountCondition) -> AlertStatus:
        rows = _Rows(self._rows(rule, matching_only=True))
        start = format_utc(self.now - condition.window)  # ISO text of one width sorts as time
        index = 0
        while rows.has(index) and rows.started[index] > start:
            index += 1
        in_window = rows.ids[:index]
        firing = len(in_window) >= condition.threshold
        first = 0
        if firing:
            # Group j (runs j .. j+N-1, newest first) keeps the rule firing over
            # [start of run j, start of run j+N-1 + W): walk back while each group's
            # interval reaches the start of the one after it.
            newer_start = rows.time(0)
            while rows.has(first + condition.threshold):
                oldest = rows.time(first + condition.threshold)
                if oldest + condition.window < newer_start:
                    break
                first += 1
                newer_start = rows.time(first)
        return AlertStatus(
            rule=rule,
            firing=firing,
            observed=float(len(in_window)),
            considered=len(in_window),
            matching=len(in_window),
            trace_ids=tuple(in_window[:MAX_TRACE_IDS]),
            evaluated_at=self.now,
            since=rows.time(first) if firing else None,
            since_trace_id=rows.ids[first] if firing else None,
        )

    def _rate(self, rule: AlertRule, condition: RateCondition) -> AlertStatus:
        rows = _Rows(self._rows(rule, matching_only=False))
        size = condition.runs
        rows.has(size - 1)
        window = min(size, len(rows.ids))
        hits = sum(rows.hits[:window])

        def at_least(hit_count: int, runs: int) -> bool:
            return runs > 0 and hit_count * 100 >= condition.percent * runs

        firing = at_least(hits, window)
        first = 0
        if firing:
            # Slide the window one run back at a time while the rate stays high enough.
            count, runs, flags = hits, window, rows.hits
            while rows.has(first + 1):
                count -= flags[first]
                runs -= 1
                if rows.has(first + size):
                    count += flags[first + size]
                    runs += 1
                if not at_least(count, runs):
                    break
                first += 1
        matching = [rows.ids[i] for i in range(window) if rows.hits[i]]
        return AlertStatus(
            rule=rule,
            firing=firing,
            observed=100 * hits / window if window else 0.0,
            considered=window,
            matching=len(matching),
            trace_ids=tuple(matching[:MAX_TRACE_IDS]),
            evaluated_at=self.now,
            since=rows.time(first) if firing else None,
            since_trace_id=rows.ids[first] if firing else None,
        )


def _match_clauses(rule: AlertRule) -> list[tuple[str, Any]]:
    clauses: list[tuple[str, Any]] = []
    if rule.matches_failures_only:
        clauses.append(("success = ?", 0))
    if rule.error_kind is not None:
        clauses.append(("error_kind = ?", rule.error_kind))
    if rule.return_code is not None:
        clauses.append(("return_code = ?", rule.return_code))
    if rule.min_fuel is not None:
        clauses.append(("fuel_consumed >= ?", rule.min_fuel))
    if rule.min_duration_ms is not None:
        clauses.append(("duration_us >= ?", rule.min_duration_ms * 1000))
    return clauses


def matches(
    rule: AlertRule,
    pattern: re.Pattern[str] | None,
    success: bool,
    error_kind: str | None,
    return_code: int | None,
    error_message: str | None,
    fuel_consumed: int | None,
    duration_us: int,
) -> bool:
    """Whether a run passes the rule's match filters (the failed runs, when it has none)."""
    if rule.matches_failures_only:
        return not success
    if rule.error_kind is not None and error_kind != rule.error_kind:
        return False
    if rule.return_code is not None and return_code != rule.return_code:
        return False
    if pattern is not None and (error_message is None or not pattern.search(error_message)):
        return False
    if rule.min_fuel is not None and (fuel_consumed is None or fuel_consumed < rule.min_fuel):
        return False
    return rule.min_duration_ms is None or duration_us >= rule.min_duration_ms * 1000


def evaluate_all(
    registry: Registry, rules: tuple[AlertRule, ...], now: datetime | None = None
) -> list[AlertStatus]:
    evaluator = AlertEvaluator(registry, now)
    return [evaluator.evaluate(rule) for rule in rules]
