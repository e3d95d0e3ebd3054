"""The timeline of one run, as `wasmcli traces show` and `run --trace` print it.

`TraceTimeline` is a rich renderable built from an `ExecutionTrace`: a header (what ran,
how it ended), one row per event (when, how long after the previous one, what, and where
in the run it falls), and for a failed run a panel with the error and the wasm backtrace.
It lays itself out for the width it is given: the position bar and the delta column go
first on narrow terminals, where details that do not fit beside a message get a line of
their own; nothing is left to rich's wrapping, text is cut with an ellipsis instead.

Everything that comes from a trace (messages, log lines, names) is drawn as `Text`, never
parsed as markup, and its control characters are made visible.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.formatting import (
    MISSING,
    binary_label,
    format_bytes,
    format_delta,
    format_duration,
    format_fuel,
    format_fuel_usage,
    format_local_time,
    format_ms,
    format_offset,
    format_return_code,
    one_line,
    plural,
    printable,
    short_id,
)
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

# Layout thresholds, in terminal columns.
WIDE: Final = 120  # a long position bar
MEDIUM: Final = 90  # a short bar
NARROW: Final = 72  # below: no delta column either
BAR_WIDE: Final = 24
BAR_MEDIUM: Final = 12
MIN_MESSAGE: Final = 12

_NUMBERED_FRAME: Final = re.compile(r"\s*#?\d+\s*[:.)]")


class TraceTimeline:
    """A renderable timeline of one ExecutionTrace; print it with a rich Console."""

    def __init__(self, trace: ExecutionTrace) -> None:
        self.trace = trace

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield _title(self.trace)
        yield _header(self.trace, width)
        yield Text()
        if self.trace.events:
            yield _events_table(self.trace, width)
        else:
            yield Text("no events recorded", style=styles.LABEL_STYLE)
        if not self.trace.success:
            yield Text()
            yield _error_panel(self.trace)

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
    suppressed = sum(_int(e.metadata, "suppressed") or 0 for e in trace.events)
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
        grid.add_column(no_wrap=True, overflow="ellipsis")
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


# Event rows ---------------------------------------------------------------------------


def _int(meta: Mapping[str, Any], key: str) -> int | None:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(meta: Mapping[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return one_line(value) if isinstance(value, str) and value else None


def _count(count: int | None) -> str:
    return MISSING if count is None else f"{count:,}"


def _pages(count: int | None) -> str:
    return MISSING if count is None else plural(count, "page")


def _page_change(meta: Mapping[str, Any]) -> str | None:
    before, after = _int(meta, "pages_before"), _int(meta, "pages_after")
    if before is None or after is None:
        return None
    return f"pages {before}→{after}" if before != after else f"pages {after}"


def _limit_duration(ms: int) -> str:
    return f"{ms // 1000:,} s" if ms >= 1000 and ms % 1000 == 0 else f"{ms:,} ms"


def _join(parts: Iterable[str | None], message: str = "") -> str:
    """Join the parts that say something the message does not already say."""
    lowered = message.lower()
    return " · ".join(p for p in parts if p and p.lower() not in lowered)


def event_details(event: TraceEvent) -> str:
    """The metadata that matters for the event's type, in a few words."""
    meta = event.metadata
    kind = event.event_type
    message = one_line(event.message)
    if kind is T.EXECUTION_START:
        timeout = _int(meta, "timeout_ms")
        memory = _int(meta, "memory_limit_mb")
        input_len, env_len = _int(meta, "input_length"), _int(meta, "env_length")
        return _join(
            [
                f"input {format_bytes(input_len)}" if input_len is not None else None,
                f"timeout {_limit_duration(timeout)}" if timeout is not None else None,
                f"memory {memory:,} MiB" if memory is not None else None,
                f"env {format_bytes(env_len)}" if env_len is not None else None,
            ]
        )
    if kind is T.LOAD_START:
        source = _str(meta, "source")
        return _join([_str(meta, "reference"), f"from {source}" if source else None], message)
    if kind is T.LOAD_COMPLETE:
        compile_ms = meta.get("compile_ms")
        if meta.get("from_cache") is True:
            how = "from cache"
        elif isinstance(compile_ms, (int, float)) and not isinstance(compile_ms, bool):
            how = f"compiled in {format_duration(round(compile_ms * 1000))}"
        else:
            how = None
        size = _int(meta, "size_bytes")
        return _join([format_bytes(size) if size is not None else None, how], message)
    if kind.is_error:
        error_kind, stage = _str(meta, "error_kind"), _str(meta, "stage")
        return _join(
            [
                f"{error_kind} during {stage}"
                if error_kind and stage and stage != error_kind
                else error_kind or stage,
                _str(meta, "error"),
            ],
            message,
        )
    if kind is T.FUEL_CHECKPOINT:
        consumed, remaining = _int(meta, "fuel_consumed"), _int(meta, "fuel_remaining")
        if consumed is None:
            return f"limit {format_fuel(_int(meta, 'fuel_limit'))}"
        return _join(
            [
                f"used {format_fuel(consumed)}",
                f"left {format_fuel(remaining)}" if remaining is not None else None,
            ]
        )
    if kind is T.HOST_FUNCTION_CALL:
        return _join([_str(meta, "function")], message)
    if kind is T.FUNCTION_CALL:
        function = _str(meta, "function")
        if function == "process":
            args = [_int(meta, k) for k in ("input_ptr", "input_len", "env_ptr", "env_len")]
            return "process(" + ", ".join(MISSING if a is None else str(a) for a in args) + ")"
        pages = _int(meta, "memory_pages")
        return _join([function, _pages(pages) if pages is not None else None], message)
    if kind is T.MEMORY_OP:
        if _str(meta, "operation") == "size_check":
            maximum = _int(meta, "memory_max_pages")
            return _join(
                [
                    _pages(_int(meta, "memory_pages")),
                    f"limit {_count(_int(meta, 'memory_limit_pages'))}",
                    f"max {maximum:,}" if maximum is not None else "no max",
                ]
            )
        written, ptr = _int(meta, "bytes"), _int(meta, "ptr")
        return _join(
            [
                None if message else _str(meta, "operation"),
                format_bytes(written) + (f" at {ptr}" if ptr is not None else "")
                if written is not None
                else None,
                _str(meta, "placement"),
                _page_change(meta),
            ]
        )
    if kind is T.PLUGIN_LOG:
        suppressed = _int(meta, "suppressed")
        if suppressed is not None:
            # The tracer's own note usually gives the count already.
            return "" if str(suppressed) in message else f"{plural(suppressed, 'line')} left out"
        line = _int(meta, "line")
        return f"line {line}" if line is not None else ""
    if kind is T.EXECUTION_COMPLETE:
        code = _int(meta, "return_code")
        out_bytes, out_lines = _int(meta, "output_bytes"), _int(meta, "output_lines")
        output = None
        if out_bytes is not None:
            output = f"output {format_bytes(out_bytes)}"
            if out_lines is not None:
                output += f" in {plural(out_lines, 'line')}"
        return _join([format_return_code(code) if code is not None else None, output])
    return ""


def _bar(position: int, previous: int | None, width: int, style: str) -> Text:
    """A track of `width` cells: the event's cell solid, the span since the previous
    event drawn as a line, so long gaps stand out."""
    bar = Text(no_wrap=True, overflow="crop")
    for cell in range(width):
        if cell == position:
            bar.append("█", style=style)
        elif previous is not None and previous <= cell < position:
            bar.append("─", style=style)
        else:
            bar.append("·", style=styles.BAR_TRACK_STYLE)
    return bar


def _bar_header(total_us: int, width: int) -> Text:
    end = format_duration(total_us)
    gap = max(width - 1 - len(end), 1)
    return Text("0" + " " * gap + end, no_wrap=True, overflow="crop")


def _events_table(trace: ExecutionTrace, width: int) -> Table:
    events = trace.events
    total = max([trace.duration_us, 1, *(e.timestamp for e in events)])
    bar_width = BAR_WIDE if width >= WIDE else BAR_MEDIUM if width >= MEDIUM else 0
    show_delta = width >= NARROW

    times = [format_ms(e.timestamp) for e in events]
    deltas = [""] + [
        format_delta(cur.timestamp - prev.timestamp)
        for prev, cur in zip(events, events[1:], strict=False)
    ]
    time_w = max(len("ms"), *(len(t) for t in times))
    delta_w = max(len("+Δ"), *(len(d) for d in deltas))
    kind_w = max(len("event"), *(len(e.event_type.value) for e in events))

    messages = [_message_parts(e) for e in events]
    fixed = time_w + kind_w + 2 + (delta_w + 2 if show_delta else 0)
    fixed += bar_width + 2 if bar_width else 0
    # As wide as the longest message needs, never wider than what is left.
    longest = max(m.cell_len + (d.cell_len + 2 if d else 0) for m, d in messages)
    message_w = max(min(width - fixed - 2, longest), MIN_MESSAGE)

    table = Table(
        box=None,
        padding=(0, 1),
        pad_edge=False,
        show_edge=False,
        header_style=styles.LABEL_STYLE,
        expand=False,
    )
    table.add_column("ms", justify="right", width=time_w, no_wrap=True)
    if show_delta:
        table.add_column("+Δ", justify="right", width=delta_w, no_wrap=True)
    table.add_column("event", width=kind_w, no_wrap=True, overflow="ellipsis")
    table.add_column("what", width=message_w, no_wrap=True, overflow="ellipsis")
    if bar_width:
        table.add_column(_bar_header(total, bar_width), width=bar_width, no_wrap=True)

    previous_pos: int | None = None
    previous_ts: int | None = None
    for event, at, delta, (message, details) in zip(events, times, deltas, messages, strict=True):
        style = styles.event_style(event.event_type)
        row: list[RenderableType] = [Text(at)]
        if show_delta:
            gap = event.timestamp - previous_ts if previous_ts is not None else 0
            # The gap where most of the run went is the first thing a reader looks for.
            long_gap = gap > 0 and gap * 4 >= total
            row.append(Text(delta, style="bold" if long_gap else styles.LABEL_STYLE))
        row.append(Text(event.event_type.value, style=style))
        row.append(_message_cell(event, message, details, message_w, stack=not show_delta))
        if bar_width:
            position = min(max(event.timestamp, 0) * bar_width // total, bar_width - 1)
            row.append(_bar(position, previous_pos, bar_width, style))
            previous_pos = position
        previous_ts = event.timestamp
        table.add_row(*row)
    return table


def _message_parts(event: TraceEvent) -> tuple[Text, Text | None]:
    if event.event_type.is_error:
        message_style = styles.FAIL_STYLE
    elif "suppressed" in event.metadata:
        message_style = styles.NOTE_STYLE  # the tracer's note, not a line of the plugin
    else:
        message_style = ""
    message = Text(one_line(event.message), style=message_style)
    details = event_details(event)
    return message, Text(details, style=styles.DETAIL_STYLE) if details else None


def _message_cell(
    event: TraceEvent, message: Text, details: Text | None, width: int, *, stack: bool
) -> Text:
    """The message with its details after it, cut to `width`. With `stack` (narrow
    terminals) details that do not fit get a line of their own instead of being cut."""
    if details is None:
        cell = message.copy()
    elif not message.plain:
        cell = details.copy()
    elif message.cell_len + 2 + details.cell_len <= width or not stack:
        cell = Text.assemble(message, "  ", details)
    elif event.event_type is T.PLUGIN_LOG:
        cell = message.copy()  # the line number is not worth a line of its own
    else:
        first, second = message.copy(), details.copy()
        first.truncate(width, overflow="ellipsis")
        second.truncate(width, overflow="ellipsis")
        return Text("\n").join([first, second])
    cell.truncate(width, overflow="ellipsis")
    return cell


# Error panel --------------------------------------------------------------------------


def _error_event(trace: ExecutionTrace) -> TraceEvent | None:
    errors = [e for e in trace.events if e.event_type.is_error]
    executions = [e for e in errors if e.event_type is T.EXECUTION_ERROR]
    last = executions or errors
    return last[-1] if last else None


def _frames(backtrace: Any) -> list[str]:
    if not isinstance(backtrace, list):
        return []
    frames = [printable(str(f)).strip() for f in backtrace]
    if all(_NUMBERED_FRAME.match(f) for f in frames):
        return frames
    return [f"#{i} {frame}" for i, frame in enumerate(frames)]


def _error_panel(trace: ExecutionTrace) -> Panel:
    event = _error_event(trace)
    meta: Mapping[str, Any] = event.metadata if event else {}
    kind = trace.error_kind or _str(meta, "error_kind") or "error"
    message = trace.error_message or _str(meta, "error") or (event.message if event else "")

    body: list[RenderableType] = [Text(printable(message) or "no message recorded")]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style=styles.LABEL_STYLE, no_wrap=True)
    facts.add_column(overflow="fold")
    stage = _str(meta, "stage")
    if stage:
        facts.add_row("stage", Text(stage))
    if event is not None:
        facts.add_row("at", Text(format_offset(event.timestamp)))
    pages = _int(meta, "memory_pages")
    if pages is not None:
        facts.add_row("memory", Text(_pages(pages)))
    if trace.return_code is not None:
        facts.add_row("return", Text(format_return_code(trace.return_code)))
    if facts.row_count:
        body += [Text(), facts]
    frames = _frames(meta.get("backtrace"))
    if frames:
        body += [Text(), Text("wasm backtrace", style=styles.LABEL_STYLE)]
        body += [Padding(Text(frame, overflow="fold"), (0, 0, 0, 2)) for frame in frames]
    return Panel(
        Group(*body),
        title=Text(f"✗ {kind}", style=styles.FAIL_STYLE),
        title_align="left",
        border_style="red",
        expand=True,
    )


__all__ = ["TraceTimeline", "event_details", "print_trace", "status_text"]
