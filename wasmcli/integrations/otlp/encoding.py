"""OTLP/JSON: the ExportTraceServiceRequest as a collector's `/v1/traces` takes it in JSON.

OTLP/JSON is protobuf's JSON mapping with three differences, and protobuf's own
`json_format` does the rest:

- field names in lowerCamelCase (json_format's default);
- 64-bit integers as strings (json_format's default for int64, uint64 and fixed64);
- enum values as integers (`use_integers_for_enums`);
- trace and span ids as lowercase hex, not base64: fixed here after the mapping.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from wasmcli.integrations.otlp.spans import export_request
from wasmcli.tracing.events import ExecutionTrace

_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId")


def otlp_json_document(
    traces: Iterable[ExecutionTrace], resource: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The OTLP/JSON ExportTraceServiceRequest for the runs, as a JSON value."""
    from google.protobuf.json_format import MessageToDict

    document: dict[str, Any] = MessageToDict(
        export_request(traces, resource), use_integers_for_enums=True
    )
    for resource_spans in document.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return document


def otlp_json(traces: Iterable[ExecutionTrace], resource: Mapping[str, Any] | None = None) -> str:
    """The OTLP/JSON text (one document, ending with a newline)."""
    return json.dumps(otlp_json_document(traces, resource), ensure_ascii=False) + "\n"


def _hex_ids(item: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        value = item.get(name)
        if isinstance(value, str):
            item[name] = base64.b64decode(value).hex()
