"""The panel at the end of a failed run's timeline: what went wrong and what to do.

It says what a person needs next: the message; for a limit, the limit and the option
that raises it; for a plugin's error code, what the code means; the plugin's last log
line (a panic message, a parse error, usually the useful part); where the run stopped;
and the wasm backtrace by function name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.event_details import int_value, limit_duration, pages, str_value
from wasmcli.render.formatting import format_bytes, format_fuel, format_offset
from wasmcli.return_codes import return_code_meaning, return_code_name
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

# The call-depth limit's trap is a trap like any other (engines/faults.py), told apart by
# its words.
_DEPTH_TRAP: Final = "trapped: call depth limit "
_NUMBERED_FRAME: Final = re.compile(r"\s*#?\d+\s*[:.)]")
LAST_LOG_CHARS: Final = 240

# The limit each kind of failure ran into: the setting in ExecutionStart's metadata, how
# to show it, and the option that raises it.
_LIMITS: Final = {
    "timeout": ("timeout_ms", limit_duration, "--timeout-ms"),
    "out_of_fuel": ("fuel_limit", format_fuel, "--fuel"),
    "memory_limit": ("memory_limit_mb", lambda mb: f"{mb:,} MB", "--memory-limit-mb"),
}


def error_event(trace: ExecutionTrace) -> TraceEvent | None:
    """The event that ended the run: the last ExecutionError, else the last LoadError."""
    errors = [e for e in trace.events if e.event_type.is_error]
    executions = [e for e in errors if e.event_type is T.EXECUTION_ERROR]
    last = executions or errors
    return last[-1] if last else None


def _setting(trace: ExecutionTrace, key: str) -> int | None:
    for event in trace.events:
        if event.event_type is T.EXECUTION_START:
            return int_value(event.metadata, key)
    return None


def _last_log_line(trace: ExecutionTrace) -> str | None:
    for event in reversed(trace.events):
        if event.event_type is T.PLUGIN_LOG and "suppressed" not in event.metadata:
            return event.message
    return None


def _clip(text: str) -> str:
    """A log line of a few rows at most; the trace has it whole."""
    if len(text) <= LAST_LOG_CHARS:
        return text
    return f"{text[: LAST_LOG_CHARS - 30]}… (+{len(text) - LAST_LOG_CHARS + 30:,} characters)"


def _frames(backtrace: Any) -> list[str]:
    if not isinstance(backtrace, list):
        return []
    frames = [one_line(str(f)).strip() for f in backtrace]
    if all(_NUMBERED_FRAME.match(f) for f in frames):
        return frames
    return [f"#{i} {frame}" for i, frame in enumerate(frames)]


def _message(trace: ExecutionTrace, kind: str, meta: Mapping[str, Any], event: Any) -> str:
    if kind == "plugin_error" and trace.return_code is not None:
        code = trace.return_code
        name = return_code_name(code) or ""
        if name.startswith("unknown code"):
            return f"The plugin returned {code}, which is not a code of the plugin ABI"
        return f"The plugin returned {name} ({code}): {return_code_meaning(code)}"
    message = trace.error_message or str_value(meta, "error") or (event.message if event else "")
    return one_line(message) or "no message recorded"


def _hint(trace: ExecutionTrace, kind: str) -> tuple[str, Text, str] | None:
    """('limit', '5 s', 'raise it with --timeout-ms') for a run stopped by a limit."""
    if kind == "trap" and _DEPTH_TRAP in (trace.error_message or ""):
        depth = _setting(trace, "max_call_depth")
        if depth is None:
            return None
        return "limit", Text(f"{depth:,} frames"), "Raise the limit with --max-call-depth."
    if kind not in _LIMITS:
        return None
    key, show, option = _LIMITS[kind]
    value = trace.fuel_limit if key == "fuel_limit" else None
    value = value if value is not None else _setting(trace, key)
    if value is None:
        return None
    return "limit", Text(show(value)), f"Raise the limit with {option}."


def error_panel(trace: ExecutionTrace) -> Panel:
    event = error_event(trace)
    meta: Mapping[str, Any] = event.metadata if event else {}
    kind = trace.error_kind or str_value(meta, "error_kind") or "error"

    body: list[RenderableType] = [Text(_message(trace, kind, meta, event))]
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style=styles.LABEL_STYLE, no_wrap=True)
    facts.add_column(overflow="fold")
    hint = _hint(trace, kind)
    if hint is not None:
        facts.add_row(hint[0], hint[1])
    if kind == "io" and "--max-output" in (trace.error_message or ""):
        cap = _setting(trace, "max_output")
        if cap is not None:
            facts.add_row("limit", Text(format_bytes(cap)))
    last_log = _last_log_line(trace)
    if last_log is not None:
        facts.add_row("last log", Text(_clip(one_line(last_log))))
    stage = str_value(meta, "stage")
    if stage:
        facts.add_row("stage", Text(stage))
    if event is not None:
        facts.add_row("at", Text(format_offset(event.timestamp)))
    memory = int_value(meta, "memory_pages")
    if memory is not None:
        facts.add_row("memory", Text(pages(memory)))
    if facts.row_count:
        body += [Text(), facts]
    if hint is not None:
        body += [Text(), Text(hint[2], style=styles.NOTE_STYLE)]
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


__all__ = ["error_event", "error_panel"]
