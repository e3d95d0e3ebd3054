"""`traces export --format junit|otlp`: stored traces in the CI and tracing formats.

Both read the traces one at a time, as the store yields them: OTLP/JSON is written run
by run, and a JUnit report keeps a bounded amount of output (`RecordCollector`), so a
large export does not hold every trace's events at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final, TextIO

from wasmcli.tracing.events import ExecutionTrace

CI_EXPORT_FORMATS: Final = ("junit", "otlp")


def write_ci_export(traces: Iterable[ExecutionTrace], fmt: str, stream: TextIO) -> int:
    """`tracing.export.write_export` for the CI formats: JUnit XML (one test case per
    trace) or OTLP/JSON (one OTLP trace per run; the resource follows
    OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME). Returns how many traces it wrote."""
    if fmt == "junit":
        from wasmcli.integrations.junit import junit_xml
        from wasmcli.integrations.records import RecordCollector

        records = RecordCollector()
        for trace in traces:
            records.add_trace(trace)
        stream.write(junit_xml(records.records, name="wasmcli traces").decode("utf-8"))
        return len(records.records)
    if fmt == "otlp":
        from wasmcli.integrations.otlp.config import resource_from_env
        from wasmcli.integrations.otlp.encoding import write_otlp_json

        resource = resource_from_env(os.environ)  # a bad variable fails before any output
        return write_otlp_json(traces, resource, stream)
    raise ValueError(f"unknown format {fmt!r}: use junit or otlp")
