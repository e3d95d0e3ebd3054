"""Formatting helpers shared by every renderer (no rich here): the pure ones live in
wasmcli/humanize.py (the HTML dashboard uses them too) and are re-exported here;
`binary_label` names a trace's binary for a terminal.
"""

from __future__ import annotations

from wasmcli.humanize import (
    MISSING,
    format_bytes,
    format_delta,
    format_duration,
    format_fuel,
    format_fuel_usage,
    format_local_time,
    format_ms,
    format_offset,
    format_return_code,
    plural,
    short_id,
    truncate,
)
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import ExecutionTrace, TraceEventType

__all__ = [
    "MISSING",
    "format_duration",
    "format_ms",
    "format_offset",
    "format_delta",
    "format_bytes",
    "format_fuel",
    "format_fuel_usage",
    "format_return_code",
    "format_local_time",
    "short_id",
    "truncate",
    "plural",
    "binary_label",
]


def binary_label(trace: ExecutionTrace, *, with_id: bool = True) -> str:
    """'hello (4f1c2a9e)' (or 'hello' without the id), the short id alone when the binary
    has no name, or what the user asked to load when nothing was loaded."""
    name = one_line(trace.binary_name) if trace.binary_name else None
    if name and trace.binary_id:
        return f"{name} ({short_id(trace.binary_id)})" if with_id else name
    if name or trace.binary_id:
        return name or short_id(trace.binary_id)
    for event in trace.events:
        reference = event.metadata.get("reference")
        if event.event_type is TraceEventType.LOAD_START and isinstance(reference, str):
            return f"{one_line(reference)} (not loaded)"
    return MISSING
