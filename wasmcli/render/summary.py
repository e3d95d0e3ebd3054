"""The one-line run summary `wasmcli run` writes to stderr after a run.

A run without a trace (`--no-trace`) still has an outcome, so the summary takes an
ExecutionTrace, the run's result (anything shaped like `RunOutcome`, as
`wasmcli.runtime.result.RunResult` is), or explicit `RunSummary` fields. Every run prints
one, so this module imports no more than it needs (not rich's Table).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Protocol

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.formatting import (
    binary_label,
    format_duration,
    format_fuel_usage,
    short_id,
    truncate,
)
from wasmcli.return_codes import return_code_name
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import ExecutionTrace

# A summary is one line; an error message longer than this is cut (the trace has it all).
MAX_SUMMARY_ERROR: Final = 160


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


def _summary_parts(run: ExecutionTrace | RunSummary | RunOutcome) -> tuple[Text, list[Text]]:
    if isinstance(run, ExecutionTrace):
        summary = RunSummary.from_trace(run)
    elif isinstance(run, RunSummary):
        summary = run
    else:
        summary = RunSummary.from_result(run)
    status = styles.status_style(summary.success)
    head = Text()
    head.append("✓" if summary.success else "✗", style=status)
    head.append(" ")
    head.append(one_line(summary.binary), style=styles.TITLE_STYLE)

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
        fuel = format_fuel_usage(summary.fuel_consumed, summary.fuel_limit, percent=False)
        parts.append(Text("fuel " + fuel))
    if summary.trace_id:
        parts.append(Text.assemble("trace ", (short_id(summary.trace_id), styles.ID_STYLE)))
    return head, parts


_SEPARATOR: Final = " · "
_INDENT: Final = "  "


def run_summary_line(run: ExecutionTrace | RunSummary | RunOutcome) -> Text:
    """'✓ hello · SUCCESS (0) · 0.84 ms · fuel 31 of 5,000,000,000 · trace 3f2a9c1b'.

    A plugin that returned a code says which ('✗ parser · ERROR_PARSE_ERROR (-5) · …');
    any other failure gives its kind and message ('✗ divider · trap: wasm trap: …').
    """
    head, parts = _summary_parts(run)
    line = head.copy()
    for part in parts:
        line.append(_SEPARATOR, style=styles.LABEL_STYLE)
        line.append_text(part)
    return line


class SummaryLine:
    """The run summary as `wasmcli run` prints it on stderr.

    Scripts read it as one line; on a terminal narrower than the line it breaks only
    between its fields, continuing indented, so no number or id is split across lines
    (a field wider than the terminal, a long error message, wraps between words).
    """

    def __init__(self, run: ExecutionTrace | RunSummary | RunOutcome) -> None:
        self.head, self.parts = _summary_parts(run)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = self.head.copy()
        for part in self.parts:
            line.append(_SEPARATOR, style=styles.LABEL_STYLE)
            line.append_text(part)
        width = options.max_width
        if not console.is_terminal or line.cell_len <= width:
            yield line
            return
        yield from self._fitted(console, width)

    def _fitted(self, console: Console, width: int) -> RenderResult:
        lines: list[Text] = [self.head.copy()]
        for part in self.parts:
            current = lines[-1]
            if current.cell_len + len(_SEPARATOR) + part.cell_len <= width:
                current.append(_SEPARATOR, style=styles.LABEL_STYLE)
                current.append_text(part)
                continue
            current.append(_SEPARATOR.rstrip(), style=styles.LABEL_STYLE)
            for piece in part.wrap(console, max(width - len(_INDENT), 8)):
                piece.rstrip()
                lines.append(Text(_INDENT) + piece)
        yield from lines


__all__ = [
    "MAX_SUMMARY_ERROR",
    "RunErrorLike",
    "RunOutcome",
    "RunSummary",
    "SummaryLine",
    "run_summary_line",
]
