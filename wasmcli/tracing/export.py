"""Trace exports: JSON, JSON Lines and the Chrome Trace Event Format (chrome.py).

`json` and `jsonl` carry `ExecutionTrace.to_dict()` unchanged, so they read back with
`ExecutionTrace.from_dict`.

No rich here: exports go to files and pipes, never through markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final, Literal, TextIO

from wasmcli.tracing.chrome import chrome_trace
from wasmcli.tracing.events import ExecutionTrace

ExportFormat = Literal["json", "jsonl", "chrome"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("json", "jsonl", "chrome")

__all__ = ["EXPORT_FORMATS", "ExportFormat", "chrome_trace", "export_traces", "write_export"]


def export_traces(traces: Iterable[ExecutionTrace], fmt: str) -> str:
    """The traces as text in one of EXPORT_FORMATS, ending with a newline (empty for jsonl)."""
    fmt = _check_format(fmt)
    items = list(traces)
    if fmt == "json":
        return json.dumps([t.to_dict() for t in items], indent=2, ensure_ascii=False) + "\n"
    if fmt == "jsonl":
        return "".join(_jsonl_line(t) for t in items)
    return json.dumps(chrome_trace(items), ensure_ascii=False) + "\n"


def write_export(traces: Iterable[ExecutionTrace], fmt: str, stream: TextIO) -> int:
    """Write the export to a text stream; returns how many traces were written.

    JSON Lines is streamed one trace at a time; the other formats are single documents.
    """
    fmt = _check_format(fmt)
    if fmt == "jsonl":
        count = 0
        for trace in traces:
            stream.write(_jsonl_line(trace))
            count += 1
        return count
    items = list(traces)
    stream.write(export_traces(items, fmt))
    return len(items)


def _check_format(fmt: str) -> ExportFormat:
    for known in EXPORT_FORMATS:
        if fmt == known:
            return known
    raise ValueError(f"unknown export format {fmt!r}: use json, jsonl or chrome")


def _jsonl_line(trace: ExecutionTrace) -> str:
    return json.dumps(trace.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"
