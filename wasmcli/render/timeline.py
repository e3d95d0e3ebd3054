"""The timeline of one run, as `wasmcli traces show` and `run --trace` print it.

`TraceTimeline` is a rich renderable built from an `ExecutionTrace`: a header (what ran,
how it ended), one row per event (when, how long after the previous row, what, and where
in the run it falls), and for a failed run a panel with the error (error_panel.py).

It lays itself out for the width it is given. Nothing important is cut: a message and
its details share a line when they fit, else the details get a line of their own, and
long text wraps. Only a very long log line is clipped, saying how much was left out (the
whole line is in `--json` and the exports). Runs of identical consecutive events (a
plugin logging the same line 1,000 times) fold into one row, "× 1,000". The position
bar and the delta column go first on narrow terminals.

Everything that comes from a trace is drawn as `Text`, never parsed as markup, with its
control characters made visible (wasmcli/safe_text.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Final

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.error_panel import error_panel
from wasmcli.render.event_details import (
    event_detail_parts,
    event_details,
    event_message,
    int_value,
)
from wasmcli.render.formatting import (
    MISSING,
    binary_label,
    format_delta,
    format_duration,
    format_fuel_usage,
    format_local_time,
    format_ms,
    format_return_code,
    plural,
    short_id,
)
from wasmcli.render.tables import new_table
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

# Layout thresholds, in terminal columns.
WIDE: Final = 120  # a long position bar
MEDIUM: Final = 90  # a short bar
NARROW: Final = 72  # below: no delta column either
BAR_WIDE: Final = 24
BAR_MEDIUM: Final = 12
MIN_MESSAGE: Final = 12
# A log line longer than this many rows of the "what" column is clipped (with a count).
MAX_LOG_ROWS: Final = 3


class TraceTimeline:
    """A renderable timeline of one ExecutionTrace; print it with a rich Console.

    `event_types` keeps only events of those types (the header still counts them all).
    """

    def __init__(
        self, trace: ExecutionTrace, event_types: Collection[TraceEventType] | None = None
    ) -> None:
        self.trace = trace
        self.event_types = frozenset(event_types) if event_types is not None else None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        events = [
            e
            for e in self.trace.events
            if self.event_types is None or e.event_type in self.event_types
        ]
        yield _title(self.trace)
        yield _header(self.trace, width)
        yield Text()
        if events:
            yield _events_table(console, self.trace, events, width)
        else:
            yield Text(
                "no events recorded" if not self.trace.events else "no events of those types",
                style=styles.LABEL_STYLE,
            )
        if len(events) != len(self.trace.events):
            shown = f"{len(events):,} of {plural(len(self.trace.events), 'event')} shown"
            yield Text(shown, style=styles.NOTE_STYLE)
        if not self.trace.success:
            yield Text()
            yield error_panel(self.trace)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(40, options.max_width), options.max_width)


def print_trace(trace: ExecutionTrace, console: Console | None = None) -> None:
    """Print the timeline of a trace, to stderr unless a console is given."""
    (console or Console(stderr=True)).print(TraceTimeline(trace))


# Header -------------------------------------------------------------------------------


def status_text(trace: ExecutionTrace) -> Text:
    """'ok' or 'failed: <kind>', colored."""
    label = "ok" if trace.success else f"failed: {trace.error_kind or 'unknown'}"
    return Text(label, style=styles.status_style(trace.success))


def _title(trace: ExecutionTrace) -> Rule:
    title = Text.assemble(
        ("trace ", styles.TITLE_STYLE),
        (short_id(trace.trace_id), styles.ID_STYLE),
        " · ",
        (binary_label(trace, with_id=False), styles.TITLE_STYLE),
        " ",
    )
    return Rule(title, align="left", style=styles.LABEL_STYLE)


def _header_fields(trace: ExecutionTrace) -> tuple[list[tuple[str, Text]], list[tuple[str, Text]]]:
    suppressed = sum(int_value(e.metadata, "suppressed") or 0 for e in trace.events)
    events = str(len(trace.events))
    if suppressed:
        events += f" (+{plural(suppressed, 'log line')} not recorded)"
    what = [
        ("binary", Text(binary_label(trace))),
        ("trace", Text(trace.trace_id, style=styles.ID_STYLE)),
        ("engine", Text(one_line(trace.engine or MISSING))),
        ("started", Text(format_local_time(trace.started_at))),
    ]
    outcome = [
        ("status", status_text(trace)),
        ("return", Text(format_return_code(trace.return_code))),
        ("duration", Text(format_duration(trace.duration_us))),
        ("fuel", Text(format_fuel_usage(trace.fuel_consumed, trace.fuel_limit))),
        ("events", Text(events)),
    ]
    return what, outcome


def _header(trace: ExecutionTrace, width: int) -> Table:
    what, outcome = _header_fields(trace)

    def side(fields: list[tuple[str, Text]]) -> int:
        return max(len(k) for k, _ in fields) + 2 + max(v.cell_len for _, v in fields)

    # Side by side when both halves fit, else one field per line.
    pairs = 2 if side(what) + 2 + side(outcome) <= width else 1
    grid = Table.grid(padding=(0, 2))
    for _ in range(pairs):
        grid.add_column(style=styles.LABEL_STYLE, no_wrap=True)
        grid.add_column(overflow="fold")
    if pairs == 2:
        blank = ("", Text())
        for i in range(max(len(what), len(outcome))):
            left = what[i] if i < len(what) else blank
            right = outcome[i] if i < len(outcome) else blank
            grid.add_row(left[0], left[1], right[0], right[1])
    else:
        for key, text in what + outcome:
            grid.add_row(key, text)
    return grid


# Rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """One line of the table: an event, or a run of identical consecutive events."""

    first: TraceEvent
    last: TraceEvent
    count: int


def fold_repeats(events: Sequence[TraceEvent]) -> list[_Row]:
    """Consecutive events of the same type and message become one row."""
    rows: list[_Row] = []
    for event in events:
        if rows:
            previous = rows[-1]
            if (
                previous.first.event_type is event.event_type
                and previous.first.message == event.message
                and "suppressed" not in event.metadata
            ):
                rows[-1] = _Row(previous.first, event, previous.count + 1)
                continue
        rows.append(_Row(event, event, 1))
    return rows


def _row_text(console: Console, row: _Row, width: int) -> tuple[Text, list[str]]:
    """The row's message, styled, and its detail fields. A long log line is clipped to a
    few rows of the column (to one in a folded row), saying how much was left out."""
    event = row.first
    if event.event_type.is_error:
        style = styles.FAIL_STYLE
    elif "suppressed" in event.metadata:
        style = styles.NOTE_STYLE  # the tracer's note, not a line of the plugin
    else:
        style = ""
    message = Text(event_message(event), style=style)
    times = f" × {row.count:,}" if row.count > 1 else ""
    if event.event_type is T.PLUGIN_LOG:
        if times:
            message = _clip(console, message, width - len(times), 1)
        else:
            message = _clip(console, message, width, MAX_LOG_ROWS)
    if times:
        message.append(times, style=styles.TITLE_STYLE)
        return message, _folded_details(row)
    return message, event_detail_parts(event)


def _clip(console: Console, message: Text, width: int, rows: int) -> Text:
    """At most `rows` lines of `width`, the last ending with how much was left out."""
    lines = message.wrap(console, max(width, 1), overflow="fold")
    if len(lines) <= rows:
        return message
    kept = lines[:rows]
    shown = sum(len(line.plain) for line in kept)
    note = f"… (+{len(message.plain) - shown:,} characters)"
    last = kept[-1]
    cut = max(width - len(note), 1)
    shown -= len(last.plain) - min(len(last.plain), cut)
    last.truncate(cut)
    last.append(f"… (+{len(message.plain) - shown:,} characters)", style=styles.NOTE_STYLE)
    return Text("\n").join(kept)


def _folded_details(row: _Row) -> list[str]:
    first, last = int_value(row.first.metadata, "line"), int_value(row.last.metadata, "line")
    span = f"over {format_duration(row.last.timestamp - row.first.timestamp)}"
    return [f"lines {first:,}–{last:,}", span] if first is not None and last is not None else [span]


def _message_cell(message: Text, details: list[str], width: int) -> Text:
    """The message with its details after it when both fit on a line, else the details
    on lines of their own, broken only between fields; rich wraps what is still longer
    than the column (a long message, a field wider than the column)."""
    joined = " · ".join(details)
    if not joined:
        return message
    if not message.plain:
        return Text(joined, style=styles.DETAIL_STYLE)
    if message.cell_len + 2 + len(joined) <= width:
        return Text.assemble(message, "  ", (joined, styles.DETAIL_STYLE))
    lines: list[str] = []
    for part in details:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return Text("\n").join([message, *(Text(line, style=styles.DETAIL_STYLE) for line in lines)])


# The position bar ---------------------------------------------------------------------


class _Track:
    """Where in the run each row falls, as a cell of a bar `width` cells wide.

    When loading (engine start-up, compiling) takes most of the run, one linear scale
    would squeeze everything the plugin did into the last cell. The track is then split:
    a quarter for the load, a dotted divider, and the rest for the run after it.
    """

    def __init__(self, width: int, total: int, load_end: int | None) -> None:
        self.width = width
        self.total = max(total, 1)
        self.split = load_end is not None and 0 < load_end and load_end * 2 > total
        self.load_end = load_end or 0
        self.load_cells = max(2, width // 4)
        self.run_cells = width - self.load_cells - 1

    def cell(self, timestamp: int) -> int:
        at = max(timestamp, 0)
        if not self.split:
            return min(at * self.width // self.total, self.width - 1)
        if at <= self.load_end:
            return min(at * self.load_cells // self.load_end, self.load_cells - 1)
        span = max(self.total - self.load_end, 1)
        offset = min((at - self.load_end) * self.run_cells // span, self.run_cells - 1)
        return self.load_cells + 1 + offset

    def bar(self, first: int, last: int, previous: int | None, style: str) -> Text:
        """The row's cells solid, the span since the previous row as a line."""
        bar = Text(no_wrap=True, overflow="crop")
        for cell in range(self.width):
            if self.split and cell == self.load_cells:
                bar.append("┆", style=styles.BAR_TRACK_STYLE)
            elif first <= cell <= last:
                bar.append("█", style=style)
            elif previous is not None and previous < cell < first:
                bar.append("─", style=style)
            else:
                bar.append("·", style=styles.BAR_TRACK_STYLE)
        return bar

    def header(self) -> Text:
        end = format_duration(self.total)
        if not self.split:
            gap = max(self.width - 1 - len(end), 1)
            return Text("0" + " " * gap + end, no_wrap=True, overflow="crop")
        load = "load".ljust(self.load_cells) if self.load_cells >= 4 else "0".ljust(self.load_cells)
        start = format_duration(self.load_end)
        if len(start) + 1 + len(end) <= self.run_cells:
            run = start + " " * (self.run_cells - len(start) - len(end)) + end
        else:
            run = end.rjust(self.run_cells)
        return Text(load + "┆" + run, no_wrap=True, overflow="crop")


def _load_end(events: Sequence[TraceEvent]) -> int | None:
    """When loading ended, if the run went on after it (a failed load ends the run)."""
    loads = [e.timestamp for e in events if e.event_type in (T.LOAD_COMPLETE, T.LOAD_ERROR)]
    if not loads or not any(e.timestamp > loads[-1] and not e.event_type.is_error for e in events):
        return None
    return loads[-1]


# The table ----------------------------------------------------------------------------


def _events_table(
    console: Console, trace: ExecutionTrace, events: Sequence[TraceEvent], width: int
) -> Table:
    rows = fold_repeats(events)
    total = max([trace.duration_us, 1, *(e.timestamp for e in trace.events)])
    bar_width = BAR_WIDE if width >= WIDE else BAR_MEDIUM if width >= MEDIUM else 0
    show_delta = width >= NARROW

    times = [format_ms(r.first.timestamp) for r in rows]
    deltas = [""] + [
        format_delta(cur.first.timestamp - prev.last.timestamp)
        for prev, cur in zip(rows, rows[1:], strict=False)
    ]
    time_w = max(len("ms"), *(len(t) for t in times))
    delta_w = max(len("+Δ"), *(len(d) for d in deltas))
    kind_w = max(len("event"), *(len(r.first.event_type.value) for r in rows))
    fixed = time_w + kind_w + 2 + (delta_w + 2 if show_delta else 0)
    fixed += bar_width + 2 if bar_width else 0
    room = max(width - fixed - 2, MIN_MESSAGE)
    texts = [_row_text(console, r, room) for r in rows]
    # As wide as the longest message needs, never wider than what is left.
    longest = max(m.cell_len + (len(" · ".join(d)) + 2 if d else 0) for m, d in texts)
    message_w = max(min(room, longest), MIN_MESSAGE)

    table = new_table(expand=False)
    table.add_column("ms", justify="right", width=time_w, no_wrap=True)
    if show_delta:
        table.add_column("+Δ", justify="right", width=delta_w, no_wrap=True)
    table.add_column("event", width=kind_w, no_wrap=True)
    table.add_column("what", width=message_w, overflow="fold")
    track = _Track(bar_width, total, _load_end(trace.events)) if bar_width else None
    if track is not None:
        table.add_column(track.header(), width=bar_width, no_wrap=True)

    previous_cell: int | None = None
    previous_ts: int | None = None
    for row, at, delta, (message, details) in zip(rows, times, deltas, texts, strict=True):
        style = styles.event_style(row.first.event_type)
        cells: list[RenderableType] = [Text(at)]
        if show_delta:
            gap = row.first.timestamp - previous_ts if previous_ts is not None else 0
            # The gap where most of the run went is the first thing a reader looks for.
            long_gap = gap > 0 and gap * 4 >= total
            cells.append(Text(delta, style="bold" if long_gap else styles.LABEL_STYLE))
        cells.append(Text(row.first.event_type.value, style=style))
        cells.append(_message_cell(message, details, message_w))
        if track is not None:
            first, last = track.cell(row.first.timestamp), track.cell(row.last.timestamp)
            cells.append(track.bar(first, last, previous_cell, style))
            previous_cell = last
        previous_ts = row.last.timestamp
        table.add_row(*cells)
    return table


__all__ = ["TraceTimeline", "event_details", "fold_repeats", "print_trace", "status_text"]
