"""One run as the report formats see it (JUnit test cases, GitHub annotations and summary).

A `RunRecord` comes from a run's `run --json` object (a single run, or one input of a
batch, whose object also carries `index` and `id`) or from a stored trace. Both say the
same things: the outcome, what failed and why, the numbers, and the output, bounded:

- a report keeps at most `MAX_REPORT_OUTPUT_BYTES` of a run's output (a JUnit file with a
  gigabyte of output helps no one), cut on a character boundary, and says how much it
  left out; a report of many runs (a batch) keeps at most `MAX_REPORT_TOTAL_OUTPUT_BYTES`
  of output in all (`RecordCollector`), so its memory and its file stay bounded however
  many inputs the batch has;
- a stored trace keeps only part of a long output (its first log lines), so a record
  made from a trace holds what the trace kept and says so when it was cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from wasmcli.return_codes import return_code_meaning, return_code_name
from wasmcli.tracing.events import ExecutionTrace, TraceEventType
from wasmcli.tracing.recorder import cut_text

MAX_REPORT_OUTPUT_BYTES: Final = 64 * 1024
MAX_REPORT_TOTAL_OUTPUT_BYTES: Final = 16 * 1024 * 1024
PLUGIN_ERROR: Final = "plugin_error"


@dataclass(frozen=True)
class Output:
    """A run's output as a report keeps it; `note` says what was left out, if anything."""

    text: str
    note: str | None = None


@dataclass(frozen=True)
class RunRecord:
    name: str  # the input's id or index, or the trace id
    binary: str  # the binary's name (or short id, or what a failed load asked for)
    engine: str | None
    success: bool
    error_kind: str | None
    error_message: str | None
    stage: str | None
    backtrace: tuple[str, ...]
    return_code: int | None
    fuel_consumed: int | None
    fuel_limit: int | None
    duration_s: float
    trace_id: str | None
    output: Output
    started_at: datetime | None = None

    @property
    def return_code_name(self) -> str | None:
        return return_code_name(self.return_code)

    @property
    def failure_type(self) -> str | None:
        """The plugin's return-code name when it returned an error code, else the error
        kind; None for a successful run."""
        if self.success:
            return None
        if self.error_kind == PLUGIN_ERROR and self.return_code is not None:
            return self.return_code_name
        return self.error_kind or "error"

    @property
    def failure_message(self) -> str | None:
        """'ERROR_PARSE_ERROR (-5): input could not be parsed' for a plugin's error code,
        else 'trap: Plugin trapped: ...' (the kind and the message)."""
        if self.success:
            return None
        if self.error_kind == PLUGIN_ERROR and self.return_code is not None:
            return (
                f"{self.return_code_name} ({self.return_code}): "
                f"{return_code_meaning(self.return_code)}"
            )
        kind = self.error_kind or "error"
        return f"{kind}: {self.error_message}" if self.error_message else kind

    @classmethod
    def from_run_json(
        cls,
        data: Mapping[str, Any],
        *,
        binary_ref: str | None = None,
        output_limit: int = MAX_REPORT_OUTPUT_BYTES,
        cut_reason: str | None = None,
    ) -> RunRecord:
        """A record from `run --json`'s object (or one `run --batch` result line).

        `binary_ref` names the binary when the run never loaded it (what the user asked
        to run); `output_limit` is how much of the output the record keeps, and
        `cut_reason` says why, should it cut some."""
        error = data.get("error") or {}
        if data.get("id") is not None:
            name = str(data["id"])
        elif data.get("index") is not None:
            name = str(data["index"])
        else:
            name = str(data.get("trace_id") or "run")
        binary = data.get("binary_name") or _short(data.get("binary_id"))
        if not binary:
            binary = f"{binary_ref} (not loaded)" if binary_ref else "unknown binary"
        return cls(
            name=name,
            binary=str(binary),
            engine=data.get("engine"),
            success=bool(data.get("success")),
            error_kind=error.get("kind"),
            error_message=error.get("message"),
            stage=error.get("stage"),
            backtrace=tuple(error.get("backtrace") or ()),
            return_code=data.get("return_code"),
            fuel_consumed=data.get("fuel_consumed"),
            fuel_limit=data.get("fuel_limit"),
            duration_s=float(data.get("duration_ms") or 0.0) / 1000,
            trace_id=data.get("trace_id"),
            output=bounded_output(
                str(data.get("output") or ""), limit=output_limit, cut_reason=cut_reason
            ),
        )

    @classmethod
    def from_trace(
        cls,
        trace: ExecutionTrace,
        *,
        output_limit: int = MAX_REPORT_OUTPUT_BYTES,
        cut_reason: str | None = None,
    ) -> RunRecord:
        """A record from a stored trace (its events give the output, stage and backtrace)."""
        error_event = next(
            (e for e in reversed(trace.events) if e.event_type is TraceEventType.EXECUTION_ERROR),
            None,
        )
        meta = error_event.metadata if error_event is not None else {}
        backtrace = meta.get("backtrace")
        return cls(
            name=trace.trace_id,
            binary=trace_binary(trace),
            engine=trace.engine,
            success=trace.success,
            error_kind=trace.error_kind,
            error_message=trace.error_message,
            stage=meta.get("stage") if isinstance(meta.get("stage"), str) else None,
            backtrace=tuple(str(f) for f in backtrace) if isinstance(backtrace, list) else (),
            return_code=trace.return_code,
            fuel_consumed=trace.fuel_consumed,
            fuel_limit=trace.fuel_limit,
            duration_s=trace.duration_us / 1_000_000,
            trace_id=trace.trace_id,
            output=trace_output(trace, limit=output_limit, cut_reason=cut_reason),
            started_at=trace.started_at,
        )


def _short(identifier: object) -> str | None:
    return identifier[:8] if isinstance(identifier, str) and identifier else None


def trace_binary(trace: ExecutionTrace) -> str:
    """The binary's name, else its short id, else what a failed load asked for."""
    if trace.binary_name:
        return trace.binary_name
    if trace.binary_id:
        return trace.binary_id[:8]
    for event in trace.events:
        reference = event.metadata.get("reference")
        if event.event_type is TraceEventType.LOAD_START and isinstance(reference, str):
            return f"{reference} (not loaded)"
    return "unknown binary"


def bounded_output(
    text: str,
    note: str | None = None,
    *,
    limit: int = MAX_REPORT_OUTPUT_BYTES,
    cut_reason: str | None = None,
) -> Output:
    """The output within `limit` bytes; `note` is an earlier cut (the trace's)."""
    kept, cut = cut_text(text, limit)
    if cut:
        reason = cut_reason or f"output cut at {_size(limit)}"
        note = f"{reason}: {cut:,} more bytes not shown" + (f"; {note}" if note else "")
    return Output(kept, note)


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // 1024 // 1024} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit:,} bytes"


class RecordCollector:
    """Records of many runs (a batch's results as they arrive, or stored traces read one
    at a time), within the report's
    output budget: each run keeps up to `MAX_REPORT_OUTPUT_BYTES`, all of them together
    up to `total_output_bytes`; after that a run keeps a note of what it left out."""

    def __init__(
        self,
        binary_ref: str | None = None,
        *,
        total_output_bytes: int = MAX_REPORT_TOTAL_OUTPUT_BYTES,
    ) -> None:
        self.binary_ref = binary_ref
        self.total = total_output_bytes
        self.left = total_output_bytes
        self.records: list[RunRecord] = []

    def add_run_json(self, data: Mapping[str, Any]) -> RunRecord:
        """A run's `run --json` object (or a batch's result line)."""
        limit, reason = self._output_limit()
        record = RunRecord.from_run_json(
            data, binary_ref=self.binary_ref, output_limit=limit, cut_reason=reason
        )
        return self._keep(record)

    def add_trace(self, trace: ExecutionTrace) -> RunRecord:
        """A stored trace."""
        limit, reason = self._output_limit()
        return self._keep(RunRecord.from_trace(trace, output_limit=limit, cut_reason=reason))

    def _output_limit(self) -> tuple[int, str | None]:
        if self.left >= MAX_REPORT_OUTPUT_BYTES:
            return MAX_REPORT_OUTPUT_BYTES, None
        return self.left, f"the report's {_size(self.total)} for all outputs is used up"

    def _keep(self, record: RunRecord) -> RunRecord:
        self.left -= len(record.output.text.encode("utf-8", "surrogateescape"))
        self.records.append(record)
        return record


def trace_output(
    trace: ExecutionTrace,
    *,
    limit: int = MAX_REPORT_OUTPUT_BYTES,
    cut_reason: str | None = None,
) -> Output:
    """The output as the trace's PluginLog events keep it, and what they left out."""
    lines: list[str] = []
    suppressed = 0
    cut_bytes = 0
    for event in trace.events:
        if event.event_type is not TraceEventType.PLUGIN_LOG:
            continue
        left_out = event.metadata.get("suppressed")
        if isinstance(left_out, int):
            suppressed += left_out
            continue
        lines.append(event.message)
        cut = event.metadata.get("cut_bytes")
        if isinstance(cut, int):
            cut_bytes += cut
    return bounded_output(
        "\n".join(lines),
        _trace_cut_note(trace, lines, suppressed, cut_bytes),
        limit=limit,
        cut_reason=cut_reason,
    )


def _trace_cut_note(
    trace: ExecutionTrace, lines: Sequence[str], suppressed: int, cut_bytes: int
) -> str | None:
    if not suppressed and not cut_bytes:
        return None
    if trace.output_bytes:  # traces recorded before output_bytes existed count lines
        kept = len("\n".join(lines).encode("utf-8", "surrogateescape"))
        return f"the trace kept {kept:,} of {trace.output_bytes:,} bytes of output"
    total_lines = len(lines) + suppressed
    return f"the trace kept {len(lines):,} of {total_lines:,} output lines"
