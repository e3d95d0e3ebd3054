"""Recording one run's events as they happen.

A `TraceRecorder` stamps each event with microseconds since the run started, keeps the
first `max_log_events` PluginLog events and counts the rest (a plugin that logs 200,000
lines must not make a 200,000-event trace; its output is governed by the output cap),
and turns into a frozen `ExecutionTrace` when the run ends. `NullRecorder` is what a
disabled tracer hands out: every method does nothing.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

DEFAULT_MAX_LOG_EVENTS = 1000


class TraceRecorder:
    enabled = True

    def __init__(
        self,
        binary_id: str | None = None,
        binary_name: str | None = None,
        engine: str | None = None,
        max_log_events: int = DEFAULT_MAX_LOG_EVENTS,
    ) -> None:
        self.trace_id = str(uuid.uuid4())
        self.binary_id = binary_id
        self.binary_name = binary_name
        self.engine = engine
        self.started_at = datetime.now(timezone.utc)
        self.start_ns = time.monotonic_ns()
        self.max_log_events = max_log_events
        self.events: list[TraceEvent] = []
        self.log_events = 0
        self.suppressed_logs = 0
        self._suppressed_reported = False

    def record(self, event_type: TraceEventType, message: str, **metadata: Any) -> None:
        self.record_at(time.monotonic_ns(), event_type, message, metadata)

    def record_log(self, at_ns: int, line: str, number: int, size: int) -> None:
        """A PluginLog event; past the cap only counted (this is a plugin's hot path)."""
        if self.log_events >= self.max_log_events:
            self.suppressed_logs += 1
            return
        self.record_at(at_ns, TraceEventType.PLUGIN_LOG, line, {"line": number, "bytes": size})

    def record_at(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None:
        """Record an event stamped at a monotonic time (a child process's, for wasmer)."""
        if event_type is TraceEventType.PLUGIN_LOG:
            if self.log_events >= self.max_log_events:
                self.suppressed_logs += 1
                return
            self.log_events += 1
        else:
            self._report_suppressed(at_ns)
        timestamp = max(0, (at_ns - self.start_ns) // 1000)
        self.events.append(TraceEvent(timestamp, event_type, self.binary_id, message, metadata))

    def _report_suppressed(self, at_ns: int) -> None:
        # One event after the last kept log line says how many lines have no event.
        if self.suppressed_logs and not self._suppressed_reported:
            self._suppressed_reported = True
            self.events.append(
                TraceEvent(
                    max(0, (at_ns - self.start_ns) // 1000),
                    TraceEventType.PLUGIN_LOG,
                    self.binary_id,
                    f"{self.suppressed_logs:,} more log lines left out of the trace",
                    {"suppressed": self.suppressed_logs},
                )
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
            error_message=error_message,
            return_code=return_code,
            fuel_limit=fuel_limit,
            fuel_consumed=fuel_consumed,
            events=events,
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

    def record(self, event_type: TraceEventType, message: str, **metadata: Any) -> None:
        return None

    def record_at(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None:
        return None

    def record_log(self, at_ns: int, line: str, number: int, size: int) -> None:
        return None
