"""OTLP/JSON: the ExportTraceServiceRequest as a collector's `/v1/traces` takes it in JSON.

OTLP/JSON is protobuf's JSON mapping with three differences, and protobuf's own
`json_format` does the rest:

- field names in lowerCamelCase (json_format's default);
- 64-bit integers as strings (json_format's default for int64, uint64 and fixed64);
- enum values as integers (`use_integers_for_enums`);
- trace and span ids as lowercase hex, not base64: fixed here after the mapping.

The request is written run by run (`write_otlp_json`): every message, the resource, the
scope and each span, goes through json_format; only the request's frame (the one
resource's one scope holding a `spans` array) is written here, so that a large export
holds one run's spans in memory at a time, as the JSON Lines export does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, TextIO

from wasmcli.integrations.otlp.spans import request_of_spans, run_spans
from wasmcli.tracing.events import ExecutionTrace

_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId")


def write_otlp_json(
    traces: Iterable[ExecutionTrace], resource: Mapping[str, Any] | None, stream: TextIO
) -> int:
    """Write one OTLP/JSON ExportTraceServiceRequest holding every run (one line, then a
    newline); returns how many runs it holds."""
    from google.protobuf.json_format import MessageToDict

    frame = MessageToDict(request_of_spans([], resource), use_integers_for_enums=True)
    [resource_spans] = frame["resourceSpans"]
    [scope_spans] = resource_spans["scopeSpans"]
    stream.write(
        '{"resourceSpans": [{"resource": '
        + json.dumps(resource_spans["resource"], ensure_ascii=False)
        + ', "scopeSpans": [{"scope": '
        + json.dumps(scope_spans["scope"], ensure_ascii=False)
        + ', "spans": ['
    )
    runs = 0
    separator = ""
    for trace in traces:
        for span in run_spans(trace):
            document = MessageToDict(span, use_integers_for_enums=True)
            _hex_ids(document)
            stream.write(separator + json.dumps(document, ensure_ascii=False))
            separator = ", "
        runs += 1
    stream.write("]}]}]}\n")
    return runs


def _hex_ids(item: dict[str, Any]) -> None:
    for name in _ID_FIELDS:
        value = item.get(name)
        if isinstance(value, str):
            item[name] = base64.b64decode(value).hex()
    for link in item.get("links", ()):
        _hex_ids(link)
