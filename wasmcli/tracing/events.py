"""The trace data model: event types, events and finished traces.

Field names follow the original tracer (docs/design.md section 7) so exported JSON stays
compatible; the extensions (engine, error_kind, fuel, return code) sit beside them.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


class TraceEventType(str, enum.Enum):
    """Exactly the original tracer's eleven event types."""

    LOAD_START = "LoadStart"
    LOAD_COMPLETE = "LoadComplete"
    LOAD_ERROR = "LoadError"
    EXECUTION_START = "ExecutionStart"
    EXECUTION_COMPLETE = "ExecutionComplete"
    EXECUTION_ERROR = "ExecutionError"
    FUNCTION_CALL = "FunctionCall"
    HOST_FUNCTION_CALL = "HostFunctionCall"
    MEMORY_OP = "MemoryOp"
    FUEL_CHECKPOINT = "FuelCheckpoint"
    PLUGIN_LOG = "PluginLog"

    @property
    def is_error(self) -> bool:
        return self in (TraceEventType.LOAD_ERROR, TraceEventType.EXECUTION_ERROR)

    @property
    def category(self) -> str:
        """'load', 'execution', 'function', 'host', 'memory', 'fuel', 'log' or 'error':
        what renderers color alike and what the Chrome export calls `cat`."""
        return _CATEGORIES[self]


_CATEGORIES: dict[TraceEventType, str] = {
    TraceEventType.LOAD_START: "load",
    TraceEventType.LOAD_COMPLETE: "load",
    TraceEventType.LOAD_ERROR: "error",
    TraceEventType.EXECUTION_START: "execution",
    TraceEventType.EXECUTION_COMPLETE: "execution",
    TraceEventType.EXECUTION_ERROR: "error",
    TraceEventType.FUNCTION_CALL: "function",
    TraceEventType.HOST_FUNCTION_CALL: "host",
    TraceEventType.MEMORY_OP: "memory",
    TraceEventType.FUEL_CHECKPOINT: "fuel",
    TraceEventType.PLUGIN_LOG: "log",
}


# The message of the FuelCheckpoint event that carries a profiled run's profile (in its
# metadata's `profile`; docs/design.md, "Profiles").
PROFILE_MESSAGE = "Fuel profile"


@dataclass(frozen=True)
class TraceEvent:
    """One timed event; `timestamp` is microseconds since the trace started."""

    timestamp: int
    event_type: TraceEventType
    binary_id: str | None
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            # `_value_` rather than `.value`: the same string without the enum's property
            # lookup (a trace serializes every event of every run).
            "event_type": self.event_type._value_,
            "binary_id": self.binary_id,
            "message": self.message,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceEvent:
        return cls(
            timestamp=int(data["timestamp"]),
            event_type=TraceEventType(data["event_type"]),
            binary_id=data.get("binary_id"),
            message=str(data.get("message", "")),
            metadata=dict(data.get("metadata") or {}),
        )


def format_utc(moment: datetime) -> str:
    """ISO-8601 UTC with microseconds and a Z, as every `*_at` field is written."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class ExecutionTrace:
    """A finished run: its outcome and its events, oldest first."""

    trace_id: str
    binary_id: str | None
    binary_name: str | None
    engine: str | None
    started_at: datetime
    duration_us: int
    success: bool
    error_kind: str | None
    error_message: str | None
    return_code: int | None
    fuel_limit: int | None
    fuel_consumed: int | None
    events: tuple[TraceEvent, ...] = ()
    # The whole output the plugin wrote (bytes of its log lines joined with newlines, and
    # their count), and how many of those bytes the trace's PluginLog events left out
    # (traces keep a bounded amount of text). None: recorded before wasmcli kept them.
    output_bytes: int | None = None
    output_lines: int | None = None
    output_bytes_cut: int | None = None
    batch_id: str | None = None  # the runs of one `run --batch` share it

    def duration(self) -> float:
        """Duration in seconds (the original API returned a Duration)."""
        return self.duration_us / 1_000_000

    @property
    def duration_ms(self) -> float:
        return round(self.duration_us / 1000, 3)

    @property
    def profile(self) -> dict[str, Any] | None:
        """The run's fuel profile (`run --profile`), None when it was not profiled."""
        for event in reversed(self.events):
            if (
                event.event_type is TraceEventType.FUEL_CHECKPOINT
                and event.message == PROFILE_MESSAGE
            ):
                found = event.metadata.get("profile")
                return found if isinstance(found, dict) else None
        return None

    @property
    def return_code_name(self) -> str | None:
        from wasmcli.return_codes import return_code_name

        return return_code_name(self.return_code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "binary_id": self.binary_id,
            "binary_name": self.binary_name,
            "engine": self.engine,
            "started_at": format_utc(self.started_at),
            "duration_ms": self.duration_ms,
            "duration_us": self.duration_us,
            "success": self.success,
            "error_kind": self.error_kind,
            "error_message": self.error_message,
            "return_code": self.return_code,
            "return_code_name": self.return_code_name,
            "fuel_limit": self.fuel_limit,
            "fuel_consumed": self.fuel_consumed,
            "output_bytes": self.output_bytes,
            "output_lines": self.output_lines,
            "output_bytes_cut": self.output_bytes_cut,
            "batch_id": self.batch_id,
            "events": [event.to_dict() for event in self.events],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionTrace:
        return cls(
            trace_id=str(data["trace_id"]),
            binary_id=data.get("binary_id"),
            binary_name=data.get("binary_name"),
            engine=data.get("engine"),
            started_at=parse_utc(data["started_at"]),
            duration_us=int(data.get("duration_us") or 0),
            success=bool(data["success"]),
            error_kind=data.get("error_kind"),
            error_message=data.get("error_message"),
            return_code=data.get("return_code"),
            fuel_limit=data.get("fuel_limit"),
            fuel_consumed=data.get("fuel_consumed"),
            events=tuple(TraceEvent.from_dict(e) for e in data.get("events", ())),
            output_bytes=data.get("output_bytes"),
            output_lines=data.get("output_lines"),
            output_bytes_cut=data.get("output_bytes_cut"),
            batch_id=data.get("batch_id"),
        )

    def __str__(self) -> str:
        status = "ok" if self.success else f"failed ({self.error_kind})"
        return (
            f"trace {self.trace_id} of {self.binary_name or self.binary_id}: {status}, "
            f"{self.duration_ms} ms, {len(self.events)} events"
        )
