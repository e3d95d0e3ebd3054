"""`traces export --format junit|otlp`: stored traces in the CI and tracing formats."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Final, TextIO

from wasmcli.tracing.events import ExecutionTrace

CI_EXPORT_FORMATS: Final = ("junit", "otlp")


def export_for_ci(
    traces: Iterable[ExecutionTrace], fmt: str, environ: Mapping[str, str]
) -> tuple[str, int]:
    """The traces as JUnit XML (one test case per trace) or OTLP/JSON (one OTLP trace per
    run; the resource follows OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME), and how
    many traces that is."""
    if fmt == "junit":
        from wasmcli.integrations.junit import junit_xml
        from wasmcli.integrations.records import RunRecord

        records = [RunRecord.from_trace(trace) for trace in traces]
        return junit_xml(records, name="wasmcli traces").decode("utf-8"), len(records)
    if fmt == "otlp":
        from wasmcli.integrations.otlp.config import resource_from_env
        from wasmcli.integrations.otlp.encoding import otlp_json

        resource = resource_from_env(environ)  # a bad variable fails before any reading
        counted = _Counted(traces)
        return otlp_json(counted, resource), counted.count
    raise ValueError(f"unknown format {fmt!r}: use junit or otlp")


def write_ci_export(traces: Iterable[ExecutionTrace], fmt: str, stream: TextIO) -> int:
    """`tracing.export.write_export` for the CI formats: write, return the count."""
    text, count = export_for_ci(traces, fmt, os.environ)
    stream.write(text)
    return count


class _Counted:
    """An iterable that counts what went through it."""

    def __init__(self, items: Iterable[ExecutionTrace]) -> None:
        self.items = items
        self.count = 0

    def __iter__(self) -> Iterator[ExecutionTrace]:
        for item in self.items:
            self.count += 1
            yield item
