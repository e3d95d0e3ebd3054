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
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
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


@dataclass
class _Row:
    trace_id: str
    started: str  # ISO-8601 UTC, as stored
    matches: bool

    @cached_property
    def started_at(self) -> datetime:
        # Parsed only for the rows a condition looks at the time of.
        return parse_utc(self.started)


@dataclass
class _Rows:
    """Rows read newest first, on demand."""

    source: Iterator[_Row]
    seen: list[_Row] = field(default_factory=list)

    def get(self, index: int) -> _Row | None:
        while len(self.seen) <= index:
            row = next(self.source, None)
            if row is None:
                return None
            self.seen.append(row)
        return self.seen[index]


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

    def _rows(self, rule: AlertRule, matching_only: bool) -> Iterator[_Row]:
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
        cursor = self.conn.cursor()
        cursor.row_factory = None
        cursor.execute(sql, params)
        for trace_id, started_at, success, kind, code, message, fuel, duration in cursor:
            hit = matches(rule, pattern, bool(success), kind, code, message, fuel, duration)
            if matching_only and not hit:
                continue
            yield _Row(trace_id, started_at, hit)

    # -- evaluating --------------------------------------------------------------------

    def evaluate(self, rule: AlertRule) -> AlertStatus:
        if isinstance(rule.condition, CountCondition):
            return self._count(rule, rule.condition)
        assert isinstance(rule.condition, RateCondition)
        return self._rate(rule, rule.condition)

    def _count(self, rule: AlertRule, condition: CountCondition) -> AlertStatus:
        rows = _Rows(self._rows(rule, matching_only=True))
        start = self.now - condition.window
        in_window: list[str] = []
        index = 0
        while (row := rows.get(index)) is not None and row.started_at > start:
            in_window.append(row.trace_id)
            index += 1
        firing = len(in_window) >= condition.threshold
        since = None
        if firing:
            # Group j (runs j .. j+N-1, newest first) keeps the rule firing over
            # [rows[j].started_at, rows[j+N-1].started_at + W): walk back while each
            # group's interval reaches the start of the one after it.
            first = 0
            while True:
                j = first + 1
                oldest = rows.get(j + condition.threshold - 1)
                if oldest is None:
                    break
                newer_start = rows.seen[first].started_at
                if oldest.started_at + condition.window < newer_start:
                    break
                first = j
            since = rows.seen[first]
        return AlertStatus(
            rule=rule,
            firing=firing,
            observed=float(len(in_window)),
            considered=len(in_window),
            matching=len(in_window),
            trace_ids=tuple(in_window[:MAX_TRACE_IDS]),
            evaluated_at=self.now,
            since=since.started_at if since else None,
            since_trace_id=since.trace_id if since else None,
        )

    def _rate(self, rule: AlertRule, condition: RateCondition) -> AlertStatus:
        rows = _Rows(self._rows(rule, matching_only=False))
        size = condition.runs
        window = [row for i in range(size) if (row := rows.get(i)) is not None]
        hits = sum(row.matches for row in window)

        def at_least(hit_count: int, runs: int) -> bool:
            return runs > 0 and hit_count * 100 >= condition.percent * runs

        firing = at_least(hits, len(window))
        since = None
        if firing:
            # Slide the window one run back at a time while the rate stays high enough.
            first, count, runs = 0, hits, len(window)
            while rows.get(first + 1) is not None:
                count -= rows.seen[first].matches
                runs -= 1
                entering = rows.get(first + size)
                if entering is not None:
                    count += entering.matches
                    runs += 1
                if not at_least(count, runs):
                    break
                first += 1
            since = rows.seen[first]
        matching = [row.trace_id for row in window if row.matches]
        return AlertStatus(
            rule=rule,
            firing=firing,
            observed=100 * hits / len(window) if window else 0.0,
            considered=len(window),
            matching=len(matching),
            trace_ids=tuple(matching[:MAX_TRACE_IDS]),
            evaluated_at=self.now,
            since=since.started_at if since else None,
            since_trace_id=since.trace_id if since else None,
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
