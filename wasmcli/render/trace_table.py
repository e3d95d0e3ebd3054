"""Trace listings: `traces_table` is what `wasmcli traces list` prints.

The one-line run summary lives in `summary.py` (a run imports it without rich's Table);
its names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.formatting import (
    MISSING,
    binary_label,
    format_duration,
    format_fuel,
    format_local_time,
    format_return_code,
    short_id,
)
from wasmcli.render.summary import (
    MAX_SUMMARY_ERROR,
    RunErrorLike,
    RunOutcome,
    RunSummary,
    SummaryLine,
    run_summary_line,
)
from wasmcli.render.tables import table_settings
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import ExecutionTrace

_GAP: Final = 2  # between columns
_COLUMNS: Final = ("id", "started", "binary", "engine", "status", "return", "duration", "fuel")
_NUMERIC: Final = frozenset({"duration", "fuel"})


_BINARY_MAX: Final = 24


@dataclass(frozen=True)
class _Layout:
    """How `traces list` draws its columns at one width."""

    columns: tuple[str, ...] = _COLUMNS
    binary_min: int = 16  # the binary column may shrink down to this (never below 8)
    short_time: bool = False
    code_only: bool = False  # the return column shows the number, not the name
    binary_width: int = _BINARY_MAX  # what the fitting settled on

    def header(self, name: str) -> str:
        return "rc" if name == "return" and self.code_only else name


# What gives way on a narrow terminal, in order: the binary name shrinks first (it is
# cut with an ellipsis, never dropped), times lose their year and seconds, the return
# code its name; only then do whole columns go, the least telling first.
_STAGES: Final = (
    _Layout(),
    _Layout(binary_min=12, short_time=True),
    _Layout(binary_min=8, short_time=True, code_only=True),
    *(
        _Layout(tuple(c for c in _COLUMNS if c not in dropped), 8, True, True)
        for dropped in (
            ("return",),
            ("return", "engine"),
            ("return", "engine", "fuel"),
            ("return", "engine", "fuel", "duration"),
        )
    ),
)


def _cells(trace: ExecutionTrace, layout: _Layout) -> dict[str, Text]:
    started = format_local_time(trace.started_at, millis=False)
    if layout.short_time:
        started = started[5:16]  # '11-26 17:47': enough to tell recent runs apart
    elif " " in started[11:]:
        started = started[: started.rindex(" ")]  # the zone is the same on every row
    status = "ok" if trace.success else (trace.error_kind or "failed")
    if layout.code_only:
        returned = MISSING if trace.return_code is None else str(trace.return_code)
    else:
        returned = format_return_code(trace.return_code)
    return {
        "id": Text(short_id(trace.trace_id), style=styles.ID_STYLE),
        "started": Text(started),
        "binary": Text(binary_label(trace, with_id=False)),
        "engine": Text(one_line(trace.engine or MISSING)),
        "status": Text(status, style=styles.status_style(trace.success)),
        "return": Text(returned),
        "duration": Text(format_duration(trace.duration_us)),
        "fuel": Text(format_fuel(trace.fuel_consumed)),
    }


def _column_width(rows: list[dict[str, Text]], layout: _Layout, name: str) -> int:
    return max([len(layout.header(name)), *(row[name].cell_len for row in rows)])


def _settle(rows: list[dict[str, Text]], layout: _Layout, width: int | None) -> _Layout | None:
    """The layout with the binary column as wide as the room allows, or None when even
    its narrowest binary column does not fit `width`."""
    wanted = min(_column_width(rows, layout, "binary"), _BINARY_MAX)
    others = sum(_column_width(rows, layout, c) for c in layout.columns if c != "binary")
    room = wanted if width is None else width - others - _GAP * (len(layout.columns) - 1)
    if room < min(wanted, layout.binary_min):
        return None
    return replace(layout, binary_width=min(wanted, room))


def _fit(items: list[ExecutionTrace], width: int | None) -> tuple[_Layout, list[dict[str, Text]]]:
    """The first layout, in the order of `_STAGES`, whose table fits `width`."""
    for stage in _STAGES:
        rows = [_cells(t, stage) for t in items]
        layout = _settle(rows, stage, width)
        if layout is not None:
            return layout, rows
    return replace(stage, binary_width=8), rows


def _natural_width(rows: list[dict[str, Text]], layout: _Layout) -> int:
    widths = [
        layout.binary_width if name == "binary" else _column_width(rows, layout, name)
        for name in layout.columns
    ]
    return sum(widths) + _GAP * (len(layout.columns) - 1)


class TracesTable(Table):
    """A rich Table of traces that, printed to a console too narrow for all of its
    columns, renders the fitted variant for that width instead."""

    def __init__(self, traces: list[ExecutionTrace], width: int | None) -> None:
        super().__init__(**table_settings())
        self._traces = traces
        self._fitted_to = width
        layout, rows = _fit(traces, width)
        self._layout = layout
        self._rows = rows
        for name in layout.columns:
            self.add_column(
                layout.header(name),
                justify="right" if name in _NUMERIC else "left",
                no_wrap=True,
                overflow="ellipsis",
                min_width=8 if name == "id" else None,
                max_width=layout.binary_width if name == "binary" else None,
            )
        for row in rows:
            self.add_row(*(row[name] for name in layout.columns))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._fitted_to is None or self._fitted_to > options.max_width:
            if _natural_width(self._rows, self._layout) > options.max_width:
                yield TracesTable(self._traces, options.max_width)
                return
        widths = self._widths()
        if sum(widths) + _GAP * (len(widths) - 1) <= options.max_width:
            yield from self._lines(widths)  # what rich's Table draws, without its cost per cell
            return
        yield from super().__rich_console__(console, options)

    def _widths(self) -> list[int]:
        layout = self._layout
        return [
            layout.binary_width
            if name == "binary"
            else max(_column_width(self._rows, layout, name), 8 if name == "id" else 0)
            for name in layout.columns
        ]

    def _lines(self, widths: list[int]) -> Iterable[Text]:
        """The table as rich's Table draws it in wasmcli's style (tables.table_settings):
        a bold header, a rule, one line per trace, columns two spaces apart. rich lays out
        and renders every cell on its own, about 0.1 ms each, so 100 traces took longer
        than starting Python and importing typer and rich; the columns' widths are
        settled here already, so each row is one padded line."""
        names = self._layout.columns
        header = [Text(self._layout.header(name), style=styles.HEADER_STYLE) for name in names]
        yield _row(header, names, widths, styles.HEADER_STYLE)
        yield Text("─" * (sum(widths) + _GAP * (len(widths) - 1)))
        for row in self._rows:
            yield _row([row[name].copy() for name in names], names, widths, "")


def _row(cells: list[Text], names: tuple[str, ...], widths: list[int], style: str) -> Text:
    """Cells cut with an ellipsis to their column's width, aligned (numbers to the right),
    then a space in the row's style and one unstyled: as rich pads and separates them."""
    line = Text()
    for position, (cell, name, width) in enumerate(zip(cells, names, widths, strict=True)):
        if position:
            line.append(" ")
        cell.truncate(width, overflow="ellipsis")
        if name in _NUMERIC:
            cell.pad_left(width - cell.cell_len)
        else:
            cell.pad_right(width - cell.cell_len)
        line.append_text(cell)
        if position < len(cells) - 1:
            line.append(" ", style=style)
    return line


def traces_table(traces: Iterable[ExecutionTrace], width: int | None = None) -> Table:
    """A table of traces, in the order given (the store returns newest first).

    Columns: id, started (local), binary, engine, status, return (decoded), duration,
    fuel. On a terminal too narrow for all of them, the binary name shrinks first, then
    times and the return code get shorter; columns are left out only below that
    (return, engine, fuel, duration, in that order). `width` fits the table ahead of
    time, otherwise it fits itself to the console it is printed on.
    """
    return TracesTable(list(traces), width)


__all__ = [
    "MAX_SUMMARY_ERROR",
    "RunErrorLike",
    "RunOutcome",
    "RunSummary",
    "SummaryLine",
    "TracesTable",
    "run_summary_line",
    "traces_table",
]
