"""What `wasmcli traces stats` prints: a table of groups with their percentiles and a
duration histogram per row, then what the failures were.

Columns give way on a narrow terminal, the least telling first (output bytes, then the
fuel p90, the p90 duration, the histogram), so no number is ever cut in the middle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from wasmcli.insight.stats import GroupBy, GroupStats, StatsReport
from wasmcli.render import styles
from wasmcli.render.formatting import (
    MISSING,
    format_bytes,
    format_duration,
    format_local_time,
    plural,
)
from wasmcli.render.tables import new_table
from wasmcli.safe_text import one_line

SPARK: Final = "▁▂▃▄▅▆▇█"

_GROUP_HEADERS: Final = {
    None: "",
    GroupBy.BINARY: "binary",
    GroupBy.ENGINE: "engine",
    GroupBy.ERROR_KIND: "error kind",
    GroupBy.DAY: "day",
    GroupBy.HOUR: "hour",
}

_ALL_COLUMNS: Final = (
    "group",
    "runs",
    "ok",
    "p50",
    "p90",
    "p99",
    "max",
    "fuel p50",
    "fuel p90",
    "fuel max",
    "output",
    "durations",
)
_NUMERIC: Final = frozenset(_ALL_COLUMNS) - {"group", "durations"}
# Dropped in this order while the table is wider than the terminal.
_GIVE_WAY: Final = ("output", "fuel p90", "p90", "fuel max", "p99", "durations")
_GAP: Final = 2
_GROUP_MIN: Final = 12


def sparkline(counts: tuple[int, ...]) -> str:
    """One character per bin, its height relative to the row's fullest bin; an empty bin
    is a space."""
    top = max(counts, default=0)
    if top == 0:
        return ""
    return "".join(
        " " if count == 0 else SPARK[min(len(SPARK) - 1, (count * len(SPARK) - 1) // top)]
        for count in counts
    )


def percent(part: int, whole: int) -> str:
    """'97.5%', '100%', '0%': one decimal only where it says something."""
    if whole == 0:
        return MISSING
    value = 100 * part / whole
    if part == whole or part == 0:
        return f"{value:.0f}%"
    return f"{min(value, 99.9):.1f}%" if value < 100 else "100%"


def _fuel(value: int | None) -> str:
    """Fuel short enough for a column: '812', '40.2K', '86.3M', '1.20G'."""
    if value is None:
        return MISSING
    for scale, unit in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if value >= scale:
            amount = value / scale
            return f"{amount:.3g}{unit}" if amount < 1000 else f"{amount:,.0f}{unit}"
    return str(value)


def _cells(group: GroupStats) -> dict[str, str]:
    return {
        "group": one_line(group.label),
        "runs": f"{group.runs:,}",
        "ok": percent(group.succeeded, group.runs),
        "p50": format_duration(group.duration.p50),
        "p90": format_duration(group.duration.p90),
        "p99": format_duration(group.duration.p99),
        "max": format_duration(group.duration.max),
        "fuel p50": _fuel(group.fuel.p50),
        "fuel p90": _fuel(group.fuel.p90),
        "fuel max": _fuel(group.fuel.max),
        "output": format_bytes(group.output.total) if group.output.runs else MISSING,
        "durations": sparkline(group.duration_histogram),
    }


@dataclass(frozen=True)
class _Fit:
    columns: tuple[str, ...]
    group_width: int


def _fit(rows: list[dict[str, str]], width: int) -> _Fit:
    columns = list(_ALL_COLUMNS)
    dropping = list(_GIVE_WAY)
    while True:
        widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
        others = sum(w for c, w in widths.items() if c != "group") + _GAP * (len(columns) - 1)
        room = width - others
        if room >= min(widths["group"], _GROUP_MIN) or not dropping:
            return _Fit(tuple(columns), max(min(widths["group"], room), 8))
        columns.remove(dropping.pop(0))


class StatsView:
    """The stats table, then the failures by kind and return code, then the histogram's
    scale."""

    def __init__(self, report: StatsReport) -> None:
        self.report = report

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        report = self.report
        shown = list(report.groups)
        with_total = report.by is not None and len(shown) > 1
        groups = [*shown, report.total] if with_total or not shown else shown
        rows = [_cells(group) for group in groups]
        if report.by is None:
            rows[-1]["group"] = "all runs"
        fit = _fit(rows, options.max_width)
        yield _header(report)
        yield _table(report, rows, fit, with_total)
        failures = _failures_table(report, groups)
        if failures is not None:
            yield Text()
            yield failures
        if "durations" in fit.columns and report.histogram_edges_us:
            edges = report.histogram_edges_us
            yield Text(
                f"durations: log scale, {format_duration(edges[0])} … "
                f"{format_duration(edges[-1])} · percentiles: nearest rank",
                style=styles.NOTE_STYLE,
            )


def _header(report: StatsReport) -> Text:
    total = report.total
    text = Text(plural(total.runs, "run"), style=styles.TITLE_STYLE)
    if total.first_started_at and total.last_started_at:
        first = format_local_time(total.first_started_at, millis=False)
        last = format_local_time(total.last_started_at, millis=False)
        text.append(f"  {first} → {last}", style=styles.LABEL_STYLE)
    return text


def _table(report: StatsReport, rows: list[dict[str, str]], fit: _Fit, with_total: bool) -> Table:
    table = new_table()
    for column in fit.columns:
        header = _GROUP_HEADERS[report.by] if column == "group" else column
        if column == "group":
            table.add_column(header, max_width=fit.group_width, overflow="ellipsis", no_wrap=True)
        else:
            table.add_column(
                header, justify="right" if column in _NUMERIC else "left", no_wrap=True
            )
    for index, row in enumerate(rows):
        last = index == len(rows) - 1
        cells = [_styled(column, row[column]) for column in fit.columns]
        table.add_row(
            *cells,
            end_section=with_total and index == len(rows) - 2,
            style=styles.HEADER_STYLE if with_total and last else None,
        )
    return table


def _styled(column: str, value: str) -> Text:
    if column == "ok" and value not in ("100%", MISSING):
        return Text(value, style=styles.FAIL_STYLE)
    if column == "durations":
        return Text(value, style=styles.category_style("execution"))
    return Text(value)


def _failures_table(report: StatsReport, groups: list[GroupStats]) -> Table | None:
    failing = [g for g in groups if g.failed]
    if not failing:
        return None
    table = new_table()
    table.add_column(
        _GROUP_HEADERS[report.by] or "runs", no_wrap=True, max_width=32, overflow="ellipsis"
    )
    table.add_column("failed", justify="right", no_wrap=True)
    table.add_column("by error kind · by return code")
    for group in failing:
        label = "all runs" if group.key is None else group.label
        why = Text(_counts(group.failures_by_error_kind))
        if group.failures_by_return_code:
            why.append("  ")
            why.append(_counts(group.failures_by_return_code), style=styles.LABEL_STYLE)
        table.add_row(
            Text(one_line(label)), Text(f"{group.failed:,}", style=styles.FAIL_STYLE), why
        )
    return table


def _counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{one_line(name)} {count:,}" for name, count in counts.items())
