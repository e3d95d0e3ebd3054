"""A stored run as OTLP spans: one trace per run.

    run <binary>                 the whole run (root span)
    ├── load                     LoadStart to the module ready (or the LoadError)
    │   ├── resolve binary       each load step the trace records (`step` resolve,
    │   ├── import engine        engine_import, engine_start, module)
    │   ├── start engine
    │   └── load module
    ├── instantiate              the store prepared to the module instantiated
    └── process                  the call to `process` to its return (or the failure)

Phases follow `tracing/phases.py`, the rules the Chrome export uses too. Each trace
event becomes a span event on the innermost span it happened in (events between the
phases, such as the input being written, sit on the run span); an ExecutionError becomes
the semantic conventions' `exception` event. Timestamps are unix nanoseconds: the run's
`started_at` plus each event's offset.

Attributes follow OpenTelemetry's semantic conventions where one exists
(`service.name`, `service.version` on the resource; `error.type` for the error kind;
`exception.type`, `exception.message`, `exception.stacktrace` on the exception event),
and are otherwise named `wasmcli.` + the trace's own field name (`wasmcli.fuel_consumed`,
`wasmcli.return_code_name`, ...; docs/design.md lists them). A failed run's span has
status ERROR with the error message, and so does the phase it failed in; other spans
leave the status unset, as the conventions ask of instrumentation.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from wasmcli import __version__
from wasmcli.integrations.records import trace_binary
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType
from wasmcli.tracing.phases import Phase, run_phases

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

SERVICE_NAME: Final = "wasmcli"
SCOPE_NAME: Final = "wasmcli"
PREFIX: Final = "wasmcli."
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US: Final = timedelta(microseconds=1)
_INT64: Final = range(-(2**63), 2**63)


# -- ids --------------------------------------------------------------------------------


def otlp_trace_id(trace_id: str) -> bytes:
    """The OTLP trace id of a run: its wasmcli trace id's 16 bytes (a UUID), so the
    backend finds a run by the id wasmcli printed, without its dashes."""
    try:
        raw = uuid.UUID(trace_id).bytes
    except ValueError:
        raw = b"\0" * 16
    if raw == b"\0" * 16:  # not a UUID (or the nil one, which OTLP forbids)
        raw = hashlib.sha256(b"wasmcli-trace:" + trace_id.encode("utf-8")).digest()[:16]
    return raw


def otlp_span_id(trace_id: str, path: str) -> bytes:
    """A span's id: a hash of the run's trace id and the span's place ("run", "load",
    "load/module", "process", ...), never all zeros."""
    digest = hashlib.sha256(f"{trace_id}/{path}".encode()).digest()
    for start in range(0, len(digest) - 7, 8):
        if any(digest[start : start + 8]):
            return digest[start : start + 8]
    return b"\0" * 7 + b"\1"


def unix_nanos(moment: datetime) -> int:
    return ((moment - _EPOCH) // _ONE_US) * 1000


# -- attributes -------------------------------------------------------------------------


def any_value(value: Any) -> AnyValue | None:
    """An attribute value: strings, booleans, 64-bit integers, floats, arrays; a number
    beyond 64 bits and a mapping become text; None has no value (the key is left out)."""
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue

    if value is None:
        return None
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value) if value in _INT64 else AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, (list, tuple)):
        items = [any_value(item) for item in value]
        return AnyValue(
            array_value=ArrayValue(values=[i if i is not None else AnyValue() for i in items])
        )
    return AnyValue(string_value=json.dumps(value, ensure_ascii=False, default=str))


def key_values(attributes: Mapping[str, Any]) -> list[KeyValue]:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    pairs = []
    for key, value in attributes.items():
        converted = any_value(value)
        if converted is not None:
            pairs.append(KeyValue(key=key, value=converted))
    return pairs


def prefixed(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {PREFIX + key: value for key, value in metadata.items()}


def run_attributes(trace: ExecutionTrace) -> dict[str, Any]:
    """The run span's attributes (None values are left out)."""
    error = _error_event(trace)
    stage = error.metadata.get("stage") if error is not None else None
    attributes: dict[str, Any] = {
        "wasmcli.trace_id": trace.trace_id,
        "wasmcli.binary_id": trace.binary_id,
        "wasmcli.binary_name": trace.binary_name,
        "wasmcli.engine": trace.engine,
        "wasmcli.success": trace.success,
        "error.type": None if trace.success else (trace.error_kind or "error"),
        "wasmcli.error_message": trace.error_message,
        "wasmcli.stage": stage,
        "wasmcli.return_code": trace.return_code,
        "wasmcli.return_code_name": trace.return_code_name,
        "wasmcli.fuel_limit": trace.fuel_limit,
        "wasmcli.fuel_consumed": trace.fuel_consumed,
        "wasmcli.duration_us": trace.duration_us,
        "wasmcli.output_bytes": trace.output_bytes,
        "wasmcli.output_lines": trace.output_lines,
        "wasmcli.output_bytes_cut": trace.output_bytes_cut,
        "wasmcli.batch_id": trace.batch_id,
    }
    return attributes


def resource_attributes(extra: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`service.name=wasmcli`, `service.version`, and what OTEL_RESOURCE_ATTRIBUTES adds
    (config.py reads it; `service.name` may be renamed by OTEL_SERVICE_NAME there)."""
    attributes: dict[str, Any] = {"service.name": SERVICE_NAME, "service.version": __version__}
    attributes.update(extra or {})
    return attributes


# -- spans ------------------------------------------------------------------------------


def _error_event(trace: ExecutionTrace) -> TraceEvent | None:
    return next(
        (e for e in reversed(trace.events) if e.event_type is TraceEventType.EXECUTION_ERROR),
        None,
    )


def span_event(event: TraceEvent, base_ns: int, trace: ExecutionTrace) -> Span.Event:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    attributes: dict[str, Any] = {"wasmcli.message": event.message}
    attributes.update(prefixed(event.metadata))
    name = event.event_type.value
    if event.event_type is TraceEventType.EXECUTION_ERROR:
        name = "exception"
        backtrace = event.metadata.get("backtrace")
        attributes = {
            "exception.type": event.metadata.get("error_kind") or trace.error_kind or "error",
            "exception.message": event.metadata.get("error") or event.message,
            "exception.stacktrace": "\n".join(map(str, backtrace))
            if isinstance(backtrace, list) and backtrace
            else None,
            "wasmcli.event_type": event.event_type.value,
            **attributes,
        }
    return Span.Event(
        time_unix_nano=base_ns + event.timestamp * 1000,
        name=name,
        attributes=key_values(attributes),
    )


class _RunSpans:
    """The spans of one run."""

    def __init__(self, trace: ExecutionTrace) -> None:
        self.trace = trace
        self.trace_id = otlp_trace_id(trace.trace_id)
        self.base_ns = unix_nanos(trace.started_at)
        self.phases = run_phases(trace)

    def spans(self) -> list[Span]:
        trace = self.trace
        root_id = otlp_span_id(trace.trace_id, "run")
        # Each event on the innermost span it happened in: a load step, a phase, the run.
        holders: list[tuple[Phase, bytes, bytes]] = []  # (phase, span id, parent id)
        for phase in self.phases.phases:
            phase_id = otlp_span_id(trace.trace_id, phase.name)
            holders.append((phase, phase_id, root_id))
            for step in phase.steps:
                holders.append(
                    (step, otlp_span_id(trace.trace_id, f"{phase.name}/{step.name}"), phase_id)
                )
        events_by_span: dict[bytes, list[Span.Event]] = {root_id: []}
        for _, span_id, _ in holders:
            events_by_span[span_id] = []
        for index, event in enumerate(trace.events):
            holder = root_id
            for phase, span_id, _ in holders:  # steps follow their phase: innermost last
                if phase.holds(index):
                    holder = span_id
            events_by_span[holder].append(span_event(event, self.base_ns, trace))
        root = self._span(
            root_id,
            b"",
            f"run {trace_binary(trace)}",
            0,
            self.phases.run_end_us,
            run_attributes(trace),
            events_by_span[root_id],
            failed=not trace.success,
        )
        spans = [root]
        for phase, span_id, parent in holders:
            spans.append(
                self._span(
                    span_id,
                    parent,
                    phase.title,
                    phase.begin_us,
                    phase.end_us,
                    {**prefixed(phase.metadata), "wasmcli.completed": phase.completed},
                    events_by_span[span_id],
                    failed=not phase.completed and not trace.success,
                )
            )
        return spans

    def _span(
        self,
        span_id: bytes,
        parent_id: bytes,
        name: str,
        begin_us: int,
        end_us: int,
        attributes: Mapping[str, Any],
        events: Sequence[Span.Event],
        *,
        failed: bool,
    ) -> Span:
        from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

        status = Status(code=Status.STATUS_CODE_UNSET)
        if failed:
            message = self.trace.error_message or "failed"
            status = Status(code=Status.STATUS_CODE_ERROR, message=message)
        return Span(
            trace_id=self.trace_id,
            span_id=span_id,
            parent_span_id=parent_id,
            name=name,
            kind=Span.SPAN_KIND_INTERNAL,
            start_time_unix_nano=self.base_ns + begin_us * 1000,
            end_time_unix_nano=self.base_ns + max(end_us, begin_us) * 1000,
            attributes=key_values(attributes),
            events=list(events),
            status=status,
        )


def run_spans(trace: ExecutionTrace) -> list[Span]:
    """The spans of one run: the run span first, then its phases and load steps."""
    return _RunSpans(trace).spans()


def request_of_spans(
    spans: Sequence[Span], resource: Mapping[str, Any] | None = None
) -> ExportTraceServiceRequest:
    """The ExportTraceServiceRequest a collector receives: one resource (wasmcli), one
    scope, these spans."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

    scope = InstrumentationScope(name=SCOPE_NAME, version=__version__)
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=key_values(resource or resource_attributes())),
                scope_spans=[ScopeSpans(scope=scope, spans=spans)],
            )
        ]
    )


__all__ = [
    "otlp_span_id",
    "request_of_spans",
    "otlp_trace_id",
    "resource_attributes",
    "run_attributes",
    "run_spans",
    "unix_nanos",
]
