"""Trace listings and the one-line run summary.

`traces_table` is what `wasmcli traces list` prints; `run_summary_line` is the line
`wasmcli run` writes to stderr after a run. A run without a trace (`--no-trace`) still
has an outcome, so the summary takes an ExecutionTrace, the run's result (anything shaped
like `RunOutcome`, as `wasmcli.runtime.result.RunResult` is), or explicit `RunSummary`
fields.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.formatting import (
    MISSING,
    binary_label,
    format_duration,
    format_fuel,
    format_fuel_usage,
    format_local_time,
    format_return_code,
    one_line,
    short_id,
    truncate,
)
from wasmcli.return_codes import return_code_name
from wasmcli.tracing.events import ExecutionTrace

# A summary is one line; an error message longer than this is cut (the trace has it all).
MAX_SUMMARY_ERROR: Final = 160


_GAP: Final = 2  # between columns
# The columns of `traces list`, and the order they give way on a narrow terminal.
_COLUMNS: Final = ("id", "started", "binary", "engine", "status", "return", "duration", "fuel")
_DROP_ORDER: Final = ("engine", "fuel", "duration", "return")
_BINARY_MAX: Final = 24
_NUMERIC: Final = frozenset({"duration", "fuel"})


def _cells(trace: ExecutionTrace, *, short_time: bool) -> dict[str, Text]:
    started = format_local_time(trace.started_at, millis=False)
    if short_time:
        started = started[5:16]  # '11-26 17:47': enough to tell recent runs apart
    elif " " in started[11:]:
        started = started[: started.rindex(" ")]  # the zone is the same on every row
    status = "ok" if trace.success else (trace.error_kind or "failed")
    return {
        "id": Text(short_id(trace.trace_id), style=styles.ID_STYLE),
        "started": Text(started),
        "binary": Text(binary_label(trace, with_id=False)),
        "engine": Text(one_line(trace.engine or MISSING)),
        "status": Text(status, style=styles.status_style(trace.success)),
        "return": Text(format_return_code(trace.return_code)),
        "duration": Text(format_duration(trace.duration_us)),
        "fuel": Text(format_fuel(trace.fuel_consumed)),
    }


def _natural_width(rows: list[dict[str, Text]], columns: list[str]) -> int:
    widths = []
    for name in columns:
        width = max([len(name), *(row[name].cell_len for row in rows)])
        widths.append(min(width, _BINARY_MAX) if name == "binary" else width)
    return sum(widths) + _GAP * (len(columns) - 1)


def _fit(items: list[ExecutionTrace], width: int | None) -> tuple[list[str], list[dict[str, Text]]]:
    """The columns and cells that fit `width`: the least telling columns give way first
    and times get shorter, rather than every cell being cut."""
    columns = list(_COLUMNS)
    rows = [_cells(t, short_time=False) for t in items]
    if width is None:
        return columns, rows
    for drop in (None, *_DROP_ORDER):
        if drop is not None:
            columns.remove(drop)
        if _natural_width(rows, columns) <= width:
            break
        if drop == "fuel":
            rows = [_cells(t, short_time=True) for t in items]
            if _natural_width(rows, columns) <= width:
                break
    return columns, rows


class TracesTable(Table):
    """A rich Table of traces that, printed to a console too narrow for all of its
    columns, renders the fitted variant for that width instead."""

    def __init__(self, traces: list[ExecutionTrace], width: int | None) -> None:
        super().__init__(
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            padding=(0, 1),
            collapse_padding=True,
            header_style=styles.HEADER_STYLE,
        )
        self._traces = traces
        self._fitted_to = width
        columns, rows = _fit(traces, width)
        for name in columns:
            self.add_column(
                name,
                justify="right" if name in _NUMERIC else "left",
                no_wrap=True,
                overflow="ellipsis",
                min_width=8 if name == "id" else None,
                max_width=_BINARY_MAX if name == "binary" else None,
            )
        for row in rows:
            self.add_row(*(row[name] for name in columns))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._fitted_to is None or self._fitted_to > options.max_width:
            names = [str(column.header) for column in self.columns]
            if _natural_width([_cells(t, short_time=False) for t in self._traces], names) > (
                options.max_width
            ):
                yield TracesTable(self._traces, options.max_width)
                return
        yield from super().__rich_console__(console, options)


def traces_table(traces: Iterable[ExecutionTrace], width: int | None = None) -> Table:
    """A table of traces, in the order given (the store returns newest first).

    Columns: id, started (local), binary, engine, status, return (decoded), duration,
    fuel. On a terminal too narrow for all of them, engine, fuel, duration and return
    code give way in that order and times are shortened; `width` fits the table ahead
    of time, otherwise it fits itself to the console it is printed on.
    """
    return TracesTable(list(traces), width)


class RunErrorLike(Protocol):
    """The error of a run: its kind (an ErrorKind or its value) and message."""

    @property
    def kind(self) -> str: ...

    @property
    def message(self) -> str: ...


class RunOutcome(Protocol):
    """What the summary reads from a run's result; `RunResult` has these attributes."""

    @property
    def binary_name(self) -> str | None: ...

    @property
    def binary_id(self) -> str | None: ...

    @property
    def duration_ms(self) -> float: ...

    @property
    def return_code(self) -> int | None: ...

    @property
    def fuel_consumed(self) -> int | None: ...

    @property
    def fuel_limit(self) -> int | None: ...

    @property
    def trace_id(self) -> str | None: ...

    @property
    def error(self) -> RunErrorLike | None: ...


@dataclass(frozen=True)
class RunSummary:
    """The outcome of a run, for the summary line, whether or not it was traced."""

    binary: str
    success: bool
    duration_us: int
    return_code: int | None = None
    error_kind: str | None = None
    error_message: str | None = None
    fuel_consumed: int | None = None
    fuel_limit: int | None = None
    trace_id: str | None = None  # None when tracing was off

    @classmethod
    def from_trace(cls, trace: ExecutionTrace) -> RunSummary:
        return cls(
            binary=binary_label(trace, with_id=False),
            success=trace.success,
            duration_us=trace.duration_us,
            return_code=trace.return_code,
            error_kind=trace.error_kind,
            error_message=trace.error_message,
            fuel_consumed=trace.fuel_consumed,
            fuel_limit=trace.fuel_limit,
            trace_id=trace.trace_id,
        )

    @classmethod
    def from_result(cls, result: RunOutcome) -> RunSummary:
        trace = getattr(result, "trace", None)
        if isinstance(trace, ExecutionTrace):
            binary = binary_label(trace, with_id=False)  # names what a failed load asked for
        else:
            binary = result.binary_name or short_id(result.binary_id)
        error = result.error
        kind = None if error is None else error.kind
        return cls(
            binary=binary,
            success=error is None,
            duration_us=round(result.duration_ms * 1000),
            return_code=result.return_code,
            error_kind=kind.value if isinstance(kind, enum.Enum) else kind,
            error_message=None if error is None else error.message,
            fuel_consumed=result.fuel_consumed,
            fuel_limit=result.fuel_limit,
            trace_id=result.trace_id,
        )


def run_summary_line(run: ExecutionTrace | RunSummary | RunOutcome) -> Text:
    """'✓ hello · SUCCESS (0) · 0.84 ms · fuel 31 of 5,000,000,000 · trace 3f2a9c1b'.

    A plugin that returned a code says which ('✗ parser · ERROR_PARSE_ERROR (-5) · …');
    any other failure gives its kind and message ('✗ divider · trap: wasm trap: …').
    """
    if isinstance(run, ExecutionTrace):
        summary = RunSummary.from_trace(run)
    elif isinstance(run, RunSummary):
        summary = run
    else:
        summary = RunSummary.from_result(run)
    status = styles.status_style(summary.success)
    line = Text()
    line.append("✓" if summary.success else "✗", style=status)
    line.append(" ")
    line.append(one_line(summary.binary), style=styles.TITLE_STYLE)

    parts: list[Text] = []
    if summary.return_code is not None and summary.error_kind in (None, "plugin_error"):
        parts.append(
            Text(f"{return_code_name(summary.return_code)} ({summary.return_code})", style=status)
        )
    elif not summary.success:
        message = truncate(one_line(summary.error_message or ""), MAX_SUMMARY_ERROR)
        kind = summary.error_kind or "failed"
        parts.append(Text(f"{kind}: {message}" if message else kind, style=status))
    parts.append(Text(format_duration(summary.duration_us)))
    if summary.fuel_consumed is not None:
        parts.append(
            Text(
                "fuel "
                + format_fuel_usage(summary.fuel_consumed, summary.fuel_limit, percent=False)
            )
        )
    if summary.trace_id:
        parts.append(Text.assemble("trace ", (short_id(summary.trace_id), styles.ID_STYLE)))
    for part in parts:
        line.append(" · ", style=styles.LABEL_STYLE)
        line.append_text(part)
    return line


__all__ = [
    "RunErrorLike",
    "RunOutcome",
    "RunSummary",
    "TracesTable",
    "run_summary_line",
    "traces_table",
]
