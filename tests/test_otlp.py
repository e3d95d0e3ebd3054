"""OpenTelemetry traces: `traces export --format otlp`, `traces push`, `run --otlp`.

Pushes go to a real OTLP/HTTP receiver on 127.0.0.1 (tests/otlp_receiver.py) that
decodes every request with opentelemetry-proto, as a collector does; the tests read
span names, parent links, timestamps, attributes and status from what it received.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from .conftest import ECHO_WAT, SAMPLES
from .otlp_receiver import OtlpReceiver, Reply, free_port

HELLO = str(SAMPLES / "hello.wasm")
PANIC = str(SAMPLES / "faulty" / "panic.wasm")
JSON_FIELDS = str(SAMPLES / "json_fields.wasm")
LOAD_STEPS = {"resolve binary", "import engine", "start engine", "load module"}
STATUS_UNSET, STATUS_ERROR = 0, 2
SPAN_KIND_INTERNAL = 1


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(autouse=True)
def no_otel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own OTEL_* settings never reach these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


def value(any_value: Any) -> Any:
    """The Python value of an OTLP AnyValue."""
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in any_value.array_value.values]
    return getattr(any_value, kind) if kind else None


def attributes(item: Any) -> dict[str, Any]:
    return {pair.key: value(pair.value) for pair in item.attributes}


def unix_nanos(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int((moment - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 10**9 + (
        moment.microsecond * 1000
    )


def make_runs(cli: Any) -> list[dict[str, Any]]:
    """Four runs, one of each outcome; their stored traces, newest first."""
    assert cli("run", HELLO, "-i", "world").exit_code == 0
    assert cli("run", PANIC).exit_code == 8
    assert cli("run", JSON_FIELDS, "-i", '{"user":"ada",}').exit_code == 1
    assert cli("run", "missing.wasm").exit_code == 3
    traces = cli("traces", "list", "--json").json()
    assert isinstance(traces, list) and len(traces) == 4
    return traces


def spans_of(receiver: OtlpReceiver, trace_id: str) -> list[Any]:
    wanted = uuid.UUID(trace_id).bytes
    return [span for span in receiver.spans() if span.trace_id == wanted]


def check_shape(spans: list[Any], stored: dict[str, Any]) -> dict[str, Any]:
    """One root span covering the run, children linked to it, times inside their parent;
    the spans by name."""
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1
    root = roots[0]
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans)  # ids are unique
    started = unix_nanos(stored["started_at"])
    assert root.start_time_unix_nano == started
    assert root.end_time_unix_nano >= started + stored["duration_us"] * 1000
    for span in spans:
        assert len(span.trace_id) == 16 and len(span.span_id) == 8
        assert span.kind == SPAN_KIND_INTERNAL
        assert span.start_time_unix_nano <= span.end_time_unix_nano
        if span is not root:
            parent = by_id[span.parent_span_id]
            assert parent.start_time_unix_nano <= span.start_time_unix_nano
            assert span.end_time_unix_nano <= parent.end_time_unix_nano
        for event in span.events:
            assert span.start_time_unix_nano <= event.time_unix_nano <= span.end_time_unix_nano
    named = {s.name: s for s in spans}
    for name, span in named.items():
        expected_parent = "load" if name in LOAD_STEPS else root.name
        if span is not root:
            assert by_id[span.parent_span_id].name == expected_parent, name
    return named


def test_push_sends_each_run_as_one_trace_with_its_phases(cli: Any, receiver: OtlpReceiver) -> None:
    stored = make_runs(cli)
    done = cli("traces", "push", "--otlp-endpoint", receiver.endpoint)
    assert done.exit_code == 0, done
    assert re.fullmatch(
        rf"Sent 4 traces \(\d+ spans\) to {receiver.endpoint}/v1/traces in 1 request\n",
        done.stderr,
    ), done.stderr
    [request] = receiver.received
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    [resource_spans] = request.request.resource_spans
    resource = attributes(resource_spans.resource)
    assert resource["service.name"] == "wasmcli"
    assert resource["service.version"]
    assert resource_spans.scope_spans[0].scope.name == "wasmcli"

    by_binary = {t["binary_name"] or "missing": t for t in stored}
    # A successful run: every phase, status unset, the output line as an event.
    hello = check_shape(spans_of(receiver, by_binary["hello"]["trace_id"]), by_binary["hello"])
    assert set(hello) == {"run hello", "load", "instantiate", "process", *LOAD_STEPS}
    root = hello["run hello"]
    assert root.status.code == STATUS_UNSET
    root_attributes = attributes(root)
    assert root_attributes["wasmcli.trace_id"] == by_binary["hello"]["trace_id"]
    assert root_attributes["wasmcli.binary_name"] == "hello"
    assert root_attributes["wasmcli.success"] is True
    assert root_attributes["wasmcli.return_code"] == 0
    assert root_attributes["wasmcli.return_code_name"] == "SUCCESS"
    assert root_attributes["wasmcli.fuel_consumed"] == by_binary["hello"]["fuel_consumed"]
    assert root_attributes["wasmcli.engine"] == by_binary["hello"]["engine"]
    assert "error.type" not in root_attributes
    logs = [e for e in hello["process"].events if e.name == "PluginLog"]
    assert [attributes(e)["wasmcli.message"] for e in logs] == ["Hello, world!"]
    assert attributes(logs[0])["wasmcli.line"] == 1
    assert [e.name for e in root.events][0] == "ExecutionStart"
    assert attributes(hello["load module"])["wasmcli.step"] == "module"

    # A trap: status ERROR on the run and on `process`, an exception event.
    panic = check_shape(spans_of(receiver, by_binary["panic"]["trace_id"]), by_binary["panic"])
    root = panic["run panic"]
    assert root.status.code == STATUS_ERROR
    assert "unreachable" in root.status.message
    assert attributes(root)["error.type"] == "trap"
    assert attributes(root)["wasmcli.stage"] == "process"
    assert panic["process"].status.code == STATUS_ERROR
    assert panic["load"].status.code == STATUS_UNSET
    [exception] = [e for e in panic["process"].events if e.name == "exception"]
    exception_attributes = attributes(exception)
    assert exception_attributes["exception.type"] == "trap"
    assert "unreachable" in exception_attributes["exception.message"]
    assert "panic::fail" in exception_attributes["exception.stacktrace"]

    # A plugin's error code: the return code's name, error.type plugin_error.
    parse = check_shape(
        spans_of(receiver, by_binary["json_fields"]["trace_id"]), by_binary["json_fields"]
    )
    root_attributes = attributes(parse["run json_fields"])
    assert root_attributes["error.type"] == "plugin_error"
    assert root_attributes["wasmcli.return_code"] == -5
    assert root_attributes["wasmcli.return_code_name"] == "ERROR_PARSE_ERROR"

    # Nothing loaded: the run and its load, failed; no later phase.
    missing = check_shape(
        spans_of(receiver, by_binary["missing"]["trace_id"]), by_binary["missing"]
    )
    assert set(missing) == {"run missing.wasm (not loaded)", "load"}
    assert missing["load"].status.code == STATUS_ERROR
    assert attributes(missing["run missing.wasm (not loaded)"])["error.type"] == "load"


def test_pushing_twice_sends_the_same_ids(any_engine_cli: Any, receiver: OtlpReceiver) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    for _ in range(2):
        assert any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint).exit_code == 0
    first, second = receiver.received
    ids = [{(s.trace_id, s.span_id, s.parent_span_id) for s in r.spans} for r in (first, second)]
    assert ids[0] == ids[1] and len(ids[0]) == 8
    assert first.body == second.body


def test_export_otlp_json_is_the_pushed_request_in_otlp_json(
    any_engine_cli: Any, receiver: OtlpReceiver
) -> None:
    from google.protobuf.json_format import MessageToDict

    make_runs(any_engine_cli)
    done = any_engine_cli("traces", "export", "--format", "otlp")
    assert done.exit_code == 0, done
    document = json.loads(done.stdout)
    assert any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint).exit_code == 0
    pushed = MessageToDict(receiver.received[0].request, use_integers_for_enums=True)

    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    pushed_spans = pushed["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == len(pushed_spans) > 4
    stored_ids = {
        t["trace_id"].replace("-", "") for t in any_engine_cli("traces", "list", "--json").json()
    }
    for span, sent in zip(spans, pushed_spans, strict=True):
        # OTLP/JSON: ids in lowercase hex (protobuf's JSON would say base64) ...
        assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"]) and span["traceId"] in stored_ids
        assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
        for name in ("traceId", "spanId", "parentSpanId"):
            if name in sent:
                assert span[name] == base64.b64decode(sent[name]).hex()
        # ... and otherwise exactly what was pushed.
        rest = {k: v for k, v in span.items() if k not in ("traceId", "spanId", "parentSpanId")}
        assert rest == {
            k: v for k, v in sent.items() if k not in ("traceId", "spanId", "parentSpanId")
        }
        # Enums are numbers, 64-bit integers strings.
        assert span["kind"] == SPAN_KIND_INTERNAL
        assert isinstance(span["startTimeUnixNano"], str) and span["startTimeUnixNano"].isdigit()
    failed = [s for s in spans if s["name"] == "run panic"][0]
    assert failed["status"]["code"] == STATUS_ERROR
    hello = [s for s in spans if s["name"] == "run hello"][0]
    fuel_attribute = {a["key"]: a["value"] for a in hello["attributes"]}["wasmcli.fuel_consumed"]
    assert fuel_attribute == {"intValue": "40"}
    assert document["resourceSpans"][0]["resource"]["attributes"][0] == {
        "key": "service.name",
        "value": {"stringValue": "wasmcli"},
    }

    def keys(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, item in node.items():
                yield key
                yield from keys(item)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    assert all(re.fullmatch(r"[a-z][A-Za-z]*", key) for key in keys(document))


def test_the_otel_variables_choose_endpoint_headers_and_resource(
    any_engine_cli: Any, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint + "/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20s3cret,x-team=wasm")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "host.name=runner-3,deployment.environment=ci")
    assert any_engine_cli("traces", "push").exit_code == 0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint + "/custom/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "plugins-ci")
    assert any_engine_cli("traces", "push").exit_code == 0

    generic, specific = receiver.received
    assert generic.path == "/v1/traces"
    assert generic.headers["authorization"] == "Bearer s3cret"
    assert generic.headers["x-team"] == "wasm"
    resource = attributes(generic.request.resource_spans[0].resource)
    assert resource["host.name"] == "runner-3"
    assert resource["deployment.environment"] == "ci"
    assert resource["service.name"] == "wasmcli"
    assert specific.path == "/custom/traces"  # the traces endpoint is used as it is
    assert specific.headers["content-encoding"] == "gzip"
    assert attributes(specific.request.resource_spans[0].resource)["service.name"] == "plugins-ci"
    assert len(specific.spans) == len(generic.spans) == 8


def test_a_bad_variable_is_a_usage_error_that_never_shows_its_value(
    any_engine_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "token-without-a-name-s3cret")
    done = any_engine_cli("traces", "push")
    assert done.exit_code == 2
    assert done.stderr.startswith("error: OTEL_EXPORTER_OTLP_HEADERS")
    assert "s3cret" not in done.stderr
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS")
    done = any_engine_cli("traces", "push", "--otlp-endpoint", "localhost:4318")
    assert done.exit_code == 2 and "http:// or https://" in done.stderr


def test_a_collector_that_refuses_is_one_line_and_exit_9(
    any_engine_cli: Any, receiver: OtlpReceiver
) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    receiver.replies.append(Reply(400, b"invalid span\nname", {"Content-Type": "text/plain"}))
    done = any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint)
    assert done.exit_code == 9
    assert done.stderr == (
        f"error: the OTLP collector at {receiver.endpoint}/v1/traces refused the traces: "
        "HTTP 400 Bad Request: invalid span name\n"
    )


def test_a_busy_collector_is_asked_again(any_engine_cli: Any, receiver: OtlpReceiver) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    receiver.replies.extend([Reply(503, headers={"Retry-After": "0"}), Reply(429)])
    done = any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint)
    assert done.exit_code == 0, done
    assert len(receiver.received) == 3  # refused twice, accepted the third time
    assert receiver.received[0].body == receiver.received[2].body


def test_partial_success_is_a_warning(any_engine_cli: Any, receiver: OtlpReceiver) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTracePartialSuccess,
        ExportTraceServiceResponse,
    )

    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    answer = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=3, error_message="too old")
    )
    receiver.replies.append(Reply(200, answer.SerializeToString()))
    done = any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint)
    assert done.exit_code == 0
    assert "warning: the collector at" in done.stderr
    assert "rejected 3 of 8 spans: too old" in done.stderr


def test_a_collector_that_is_down_is_one_line_and_exit_9(any_engine_cli: Any) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    endpoint = f"http://127.0.0.1:{free_port()}"
    done = any_engine_cli("traces", "push", "--otlp-endpoint", endpoint)
    assert done.exit_code == 9
    lines = done.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: cannot reach the OTLP collector at {endpoint}/v1/traces:")
    assert "refused" in lines[0].lower()


def test_push_sends_bounded_batches_of_whole_runs(
    any_engine_cli: Any, receiver: OtlpReceiver
) -> None:
    from wasmcli.integrations.otlp.config import OtlpTarget
    from wasmcli.integrations.otlp.push import push_traces
    from wasmcli.store.registry import Registry
    from wasmcli.store.traces import TraceStore

    for word in ("a", "b", "c", "d", "e"):
        assert any_engine_cli("run", HELLO, "-i", word).exit_code == 0
    import os
    from pathlib import Path

    traces = TraceStore(Registry(Path(os.environ["WASMCLI_HOME"])).conn).list()
    target = OtlpTarget(receiver.endpoint + "/v1/traces")
    report = push_traces(traces, target, max_batch_traces=2)
    assert (report.traces, report.requests, report.spans) == (5, 3, 40)
    assert [len(r.spans) for r in receiver.received] == [16, 16, 8]
    one_run = sum(s.ByteSize() for s in receiver.received[2].spans)
    push_traces(traces, target, max_batch_bytes=one_run * 5 // 2)  # two runs fit, not three
    assert [len(r.spans) for r in receiver.received[3:]] == [16, 16, 8]
    # Every run's spans travel together.
    for received in receiver.received:
        assert len({s.trace_id for s in received.spans}) * 8 == len(received.spans)


def test_run_otlp_sends_the_run_as_it_is_stored(
    cli: Any, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    done = cli("run", PANIC, "--otlp", "--json")
    assert done.exit_code == 8
    trace_id = json.loads(done.stdout)["trace_id"]
    spans = spans_of(receiver, trace_id)
    stored = cli("traces", "list", "--json").json()[0]
    assert stored["trace_id"] == trace_id
    named = check_shape(spans, stored)
    assert named["run panic"].status.code == STATUS_ERROR
    assert "warning" not in done.stderr


def test_run_otlp_with_tracing_off_sends_the_trace_and_stores_none(
    any_engine_cli: Any, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("WASMCLI_TRACE", "0")
    assert any_engine_cli("run", HELLO, "-i", "x", "--otlp").exit_code == 0
    assert len(receiver.spans()) == 8
    assert any_engine_cli("traces", "list", "--json").json() == []


def test_run_otlp_never_fails_the_run_when_the_collector_is_down(
    any_engine_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    done = any_engine_cli("run", HELLO, "-i", "x", "--otlp")
    assert done.exit_code == 0
    assert done.stdout == "Hello, x!\n"
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "cannot reach the OTLP collector" in warnings[0]
    assert "the run's outcome stands" in warnings[0]
    assert len(any_engine_cli("traces", "list", "--json").json()) == 1  # still stored


def test_run_otlp_waits_for_a_slow_collector_at_most_2_s(
    any_engine_cli: Any, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "30000")  # a run caps it at 2 s
    receiver.replies.append(Reply(200, delay_s=30))
    started = time.monotonic()
    done = any_engine_cli("run", HELLO, "-i", "x", "--otlp")
    elapsed = time.monotonic() - started
    assert done.exit_code == 0
    assert "did not answer within 2 s" in done.stderr
    assert elapsed < 20  # bounded by the 2 s timeout, not by the collector's 30 s


def test_run_otlp_and_no_trace_is_a_usage_error(any_engine_cli: Any) -> None:
    done = any_engine_cli("run", HELLO, "--otlp", "--no-trace")
    assert done.exit_code == 2
    assert done.stderr == "error: --otlp sends the run's trace: it cannot be used with --no-trace\n"


def test_events_hang_on_the_span_they_happened_in(
    any_engine_cli: Any, receiver: OtlpReceiver, wat_file: Any
) -> None:
    echo = wat_file(ECHO_WAT, "echo")
    assert any_engine_cli("run", str(echo), "-i", "a\x07line").exit_code == 0
    assert any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint).exit_code == 0
    named = {s.name: s for s in receiver.spans()}
    process_events = [e.name for e in named["process"].events]
    assert process_events == ["FunctionCall", "PluginLog", "FuelCheckpoint", "ExecutionComplete"]
    assert [e.name for e in named["instantiate"].events] == [
        "FuelCheckpoint",
        "HostFunctionCall",
        "FunctionCall",
    ]
    assert [e.name for e in named["load module"].events] == ["LoadComplete"]
    assert [e.name for e in named["run echo"].events] == [
        "ExecutionStart",
        "MemoryOp",
        "MemoryOp",
        "MemoryOp",
    ]
    log = [e for e in named["process"].events if e.name == "PluginLog"][0]
    assert attributes(log)["wasmcli.message"] == "a\x07line"  # the text as the plugin wrote it


def test_nothing_selected_sends_nothing_and_exports_an_empty_request(
    any_engine_cli: Any, receiver: OtlpReceiver
) -> None:
    assert any_engine_cli("run", HELLO, "-i", "x").exit_code == 0
    done = any_engine_cli("traces", "push", "--otlp-endpoint", receiver.endpoint, "--failed")
    assert done.exit_code == 0
    assert done.stderr == "No traces to send.\n"
    assert receiver.received == []
    done = any_engine_cli("traces", "export", "--format", "otlp", "--failed")
    assert done.exit_code == 0
    [resource_spans] = json.loads(done.stdout)["resourceSpans"]
    assert resource_spans["scopeSpans"][0]["spans"] == []
    assert {"key": "service.name", "value": {"stringValue": "wasmcli"}} in resource_spans[
        "resource"
    ]["attributes"]


def test_run_batch_otlp_sends_every_stored_trace_of_the_batch(
    cli: Any, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    assert cli("run", HELLO, "-i", "before").exit_code == 0  # not the batch's: not sent
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"id": "a", "input": "a"}\n{"id": "bad", "input": 1}\n{"input": "c"}\n')
    done = cli("run", HELLO, "--batch", str(inputs), "--otlp")
    assert done.exit_code == 2
    assert "warning" not in done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    sent = {span.trace_id for span in receiver.spans()}
    stored = [r["trace_id"] for r in results if r["trace_id"]]
    assert len(stored) == 2  # the bad line is not a run
    assert sent == {uuid.UUID(trace_id).bytes for trace_id in stored}
    traces = {t["trace_id"]: t for t in cli("traces", "list", "--json").json()}
    for trace_id in stored:
        named = check_shape(spans_of(receiver, trace_id), traces[trace_id])
        assert attributes(named["run hello"])["wasmcli.batch_id"] == traces[trace_id]["batch_id"]


def test_run_batch_otlp_needs_stored_traces(
    any_engine_cli: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"input": "a"}\n')
    monkeypatch.setenv("WASMCLI_TRACE", "0")
    done = any_engine_cli("run", HELLO, "--batch", str(inputs), "--otlp")
    assert done.exit_code == 2
    assert done.stderr == (
        "error: --otlp with --batch sends the batch's stored traces: WASMCLI_TRACE=0 stores none\n"
    )
    assert done.stdout == ""


def test_push_batch_sends_only_that_batchs_runs(
    any_engine_cli: Any, receiver: OtlpReceiver, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"input": "a"}\n{"input": "b"}\n')
    assert any_engine_cli("run", HELLO, "--batch", str(inputs)).exit_code == 0
    assert any_engine_cli("run", HELLO, "-i", "alone").exit_code == 0
    stored = any_engine_cli("traces", "list", "--json").json()
    [batch_id] = {t["batch_id"] for t in stored if t["batch_id"]}
    done = any_engine_cli(
        "traces", "push", "--otlp-endpoint", receiver.endpoint, "--batch", batch_id
    )
    assert done.exit_code == 0, done
    sent = {span.trace_id for span in receiver.spans()}
    assert sent == {uuid.UUID(t["trace_id"]).bytes for t in stored if t["batch_id"] == batch_id}
    assert len(sent) == 2
