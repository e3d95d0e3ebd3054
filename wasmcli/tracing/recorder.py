"""Recording one run's events as they happen, within a bounded size.

A `TraceRecorder` stamps each event with microseconds since the run started and turns
into a frozen `ExecutionTrace` when the run ends. A trace has a bounded size whatever
the plugin does, because a plugin's output is the plugin's to choose:
- at most `MAX_TRACE_OUTPUT_BYTES` (64 KiB) of output text is kept in PluginLog events:
  the line that crosses it is cut, and the lines after it are only counted;
- at most `max_log_events` (1,000) PluginLog events;
- one event after the last kept line says how many lines and bytes were left out, and
  the trace records the whole output's size and how many of its bytes were cut;
- any other text (an error message, an import name in one) is cut at 4 KiB.
The output itself is governed by the output cap (`--max-output`), not by these bounds.
`NullRecorder` is what a disabled tracer hands out: every method does nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

DEFAULT_MAX_LOG_EVENTS = 1000
MAX_TRACE_OUTPUT_BYTES = 64 * 1024
MAX_TEXT_BYTES = 4 * 1024


def cut_text(text: str, limit: int) -> tuple[str, int]:
    """`text` cut to at most `limit` UTF-8 bytes (on a character boundary); bytes cut."""
    if len(text) * 4 <= limit:  # cheap: no character is wider than 4 bytes
        return text, 0
    raw = text.encode("utf-8", "surrogateescape")
    if len(raw) <= limit:
        return text, 0
    kept = raw[:limit].decode("utf-8", "ignore")
    return kept, len(raw) - len(kept.encode("utf-8", "surrogateescape"))


def _bounded(text: str) -> str:
    kept, cut = cut_text(text, MAX_TEXT_BYTES)
    return f"{kept}… ({cut:,} more bytes not kept)" if cut else text


def _bounded_value(value: Any) -> Any:
    if isinstance(value, str):
        return _bounded(value)
    if isinstance(value, list):
        return [_bounded_value(item) for item in value]
    return value


# A text of at most this many characters is within MAX_TEXT_BYTES whatever it holds (no
# character takes more than 4 bytes in UTF-8).
_SHORT_TEXT = MAX_TEXT_BYTES // 4


def _bounded_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` with every text in it bounded; the same dict when nothing needs it
    (nearly always: this runs for every event, so the check is a cheap pass first)."""
    for value in metadata.values():
        if type(value) is str:  # the common text: its length says whether it fits
            if len(value) <= _SHORT_TEXT:
                continue
        elif not isinstance(value, (str, list)):  # a number, a flag, None
            continue
        return {key: _bounded_value(item) for key, item in metadata.items()}
    return metadata


class TraceRecorder:
    enabled = True

    def __init__(
        self,
        binary_id: str | None = None,
        binary_name: str | None = None,
        engine: str | None = None,
        max_log_events: int = DEFAULT_MAX_LOG_EVENTS,
        batch_id: str | None = None,
    ) -> None:
        self.trace_id = str(uuid.uuid4())
        self.binary_id = binary_id
        self.binary_name = binary_name
        self.engine = engine
        self.batch_id = batch_id
        self.started_at = datetime.now(timezone.utc)
        self.start_ns = time.monotonic_ns()
        self.max_log_events = max_log_events
        self.events: list[TraceEvent] = []
        self.log_events = 0
        self.output_bytes = 0  # the whole output: log lines joined with newlines
        self.output_lines = 0
        self.kept_output_bytes = 0  # of which the PluginLog events keep this many
        self.suppressed_logs = 0
        self.suppressed_bytes = 0
        self._suppressed_reported = False

    def record(self, event_type: TraceEventType, message: str, **metadata: Any) -> None:
        self.record_at(time.monotonic_ns(), event_type, message, metadata)

    def record_log(self, at_ns: int, line: str, number: int, size: int) -> None:
        """A PluginLog event for one output line of `size` bytes, within the bounds.

        This is a plugin's hot path: past the bounds a line is only counted.
        """
        self.output_bytes += size + (1 if self.output_lines else 0)
        self.output_lines += 1
        room = MAX_TRACE_OUTPUT_BYTES - self.kept_output_bytes
        if self.log_events >= self.max_log_events or room <= 0:
            self.suppressed_logs += 1
            self.suppressed_bytes += size
            return
        metadata: dict[str, Any] = {"line": number, "bytes": size}
        if size > room:
            line, cut = cut_text(line, room)
            metadata["cut_bytes"] = cut
            self.suppressed_bytes += cut
        self.kept_output_bytes += size - metadata.get("cut_bytes", 0)
        self.log_events += 1
        self._append(at_ns, TraceEventType.PLUGIN_LOG, line, metadata)

    def record_at(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None:
        """Record an event stamped at a monotonic time (a child process's, for wasmer)."""
        if event_type is TraceEventType.PLUGIN_LOG:
            size = len(message.encode("utf-8", "surrogateescape"))
            self.record_log(at_ns, message, self.output_lines + 1, size)
            return
        if self.suppressed_logs:
            self._report_suppressed(at_ns)
        if len(message) > _SHORT_TEXT:
            message = _bounded(message)
        self._append(at_ns, event_type, message, _bounded_metadata(metadata))

    def _append(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None:
        timestamp = max(0, (at_ns - self.start_ns) // 1000)
        self.events.append(TraceEvent(timestamp, event_type, self.binary_id, message, metadata))

    def _report_suppressed(self, at_ns: int) -> None:
        # One event after the last kept log line says how many lines have no event.
        if self.suppressed_logs and not self._suppressed_reported:
            self._suppressed_reported = True
            self._append(
                at_ns,
                TraceEventType.PLUGIN_LOG,
                f"{self.suppressed_logs:,} more log lines left out of the trace",
                {"suppressed": self.suppressed_logs, "suppressed_bytes": self.suppressed_bytes},
            )

    def set_binary(self, binary_id: str | None, binary_name: str | None) -> None:
        self.binary_id = binary_id
        self.binary_name = binary_name

    def finish(
        self,
        *,
        success: bool,
        error_kind: str | None,
        error_message: str | None,
        return_code: int | None,
        fuel_limit: int | None,
        fuel_consumed: int | None,
    ) -> ExecutionTrace:
        end_ns = time.monotonic_ns()
        self._report_suppressed(end_ns)
        events = tuple(
            event if event.binary_id == self.binary_id else _with_binary(event, self.binary_id)
            for event in self.events
        )
        return ExecutionTrace(
            trace_id=self.trace_id,
            binary_id=self.binary_id,
            binary_name=self.binary_name,
            engine=self.engine,
            started_at=self.started_at,
            duration_us=max(0, (end_ns - self.start_ns) // 1000),
            success=success,
            error_kind=error_kind,
            error_message=_bounded(error_message) if error_message is not None else None,
            return_code=return_code,
            fuel_limit=fuel_limit,
            fuel_consumed=fuel_consumed,
            events=events,
            output_bytes=self.output_bytes,
            output_lines=self.output_lines,
            output_bytes_cut=self.suppressed_bytes,
            batch_id=self.batch_id,
        )


def _with_binary(event: TraceEvent, binary_id: str | None) -> TraceEvent:
    # Events recorded before the binary was resolved get its id once it is known.
    return TraceEvent(event.timestamp, event.event_type, binary_id, event.message, event.metadata)


class NullRecorder(TraceRecorder):
    """A recorder that records nothing: tracing disabled costs a method call per event."""

    enabled = False

    def __init__(self) -> None:  # no clock, no uuid: nothing to pay for
        self.trace_id = ""
        self.binary_id = None
        self.binary_name = None
        self.engine = None
        self.batch_id = None

    def record(self, event_type: TraceEventType, message: str, **metadata: Any) -> None:
        return None

    def record_at(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None:
        return None

    def record_log(self, at_ns: int, line: str, number: int, size: int) -> None:
        return None
