"""OTLP/HTTP: POST the runs' spans to a collector as protobuf, in bounded batches.

Each request is an ExportTraceServiceRequest serialized by protobuf itself (POST
{endpoint}/v1/traces, `Content-Type: application/x-protobuf`), holding whole runs up to
`MAX_BATCH_TRACES` runs or `MAX_BATCH_BYTES` bytes, so a large store never becomes one
huge request. A collector that answers 429, 502, 503 or 504 (busy, or restarting) is
asked again after a short wait, at most `retries` times, as the OTLP specification
advises; any other refusal, a collector that is down, or one that does not answer in
time ends the push with `OtlpPushError` (kind io: exit 9), saying how many runs were sent
before. A collector that accepts a request but rejects some spans (`partial_success`)
gives a warning.

The exporter package of OpenTelemetry (opentelemetry-exporter-otlp-proto-http) exports
live spans from its SDK, with ids it generates; wasmcli sends finished runs with ids
derived from their trace ids, so it builds the messages with opentelemetry-proto and
POSTs them with the standard library.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from wasmcli import __version__
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.integrations.otlp.config import OtlpTarget
from wasmcli.tracing.events import ExecutionTrace

if TYPE_CHECKING:
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

MAX_BATCH_TRACES: Final = 100
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
RETRYABLE: Final = frozenset({429, 502, 503, 504})
MAX_RETRY_WAIT_S: Final = 5.0
CONTENT_TYPE: Final = "application/x-protobuf"


class OtlpPushError(WasmcliError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.IO, message)


@dataclass
class PushReport:
    traces: int = 0  # runs sent
    spans: int = 0
    requests: int = 0
    rejected_spans: int = 0  # spans the collector said it dropped
    warnings: list[str] = field(default_factory=list)


def display_url(url: str) -> str:
    """The URL without any user:password part (messages never show credentials)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def push_traces(
    traces: Iterable[ExecutionTrace],
    target: OtlpTarget,
    resource: Mapping[str, Any] | None = None,
    *,
    retries: int = 2,
    max_batch_traces: int = MAX_BATCH_TRACES,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    sleep: Callable[[float], None] = time.sleep,
) -> PushReport:
    """Send every run; a PushReport, or OtlpPushError at the first batch that fails."""
    from wasmcli.integrations.otlp.spans import run_spans

    report = PushReport()
    batch: list[Span] = []
    batch_runs = 0
    batch_bytes = 0
    for trace in traces:
        spans = run_spans(trace)
        size = sum(span.ByteSize() for span in spans)
        if batch and (batch_runs >= max_batch_traces or batch_bytes + size > max_batch_bytes):
            _send(batch, batch_runs, target, resource, report, retries, sleep)
            batch, batch_runs, batch_bytes = [], 0, 0
        batch.extend(spans)
        batch_runs += 1
        batch_bytes += size
    if batch:
        _send(batch, batch_runs, target, resource, report, retries, sleep)
    return report


def _send(
    spans: list[Span],
    runs: int,
    target: OtlpTarget,
    resource: Mapping[str, Any] | None,
    report: PushReport,
    retries: int,
    sleep: Callable[[float], None],
) -> None:
    from wasmcli.integrations.otlp.spans import request_of_spans

    body = request_of_spans(spans, resource).SerializeToString()
    answer = _post(body, target, retries, sleep, sent_before=report.traces)
    report.requests += 1
    report.traces += runs
    report.spans += len(spans)
    rejected, message = _partial_success(answer)
    if rejected:
        report.rejected_spans += rejected
        report.warnings.append(
            f"the collector at {display_url(target.url)} rejected {rejected:,} of "
            f"{len(spans):,} spans" + (f": {message}" if message else "")
        )


def _post(
    body: bytes,
    target: OtlpTarget,
    retries: int,
    sleep: Callable[[float], None],
    *,
    sent_before: int,
) -> bytes:
    import urllib.error
    import urllib.request

    headers = {
        "Content-Type": CONTENT_TYPE,
        "User-Agent": f"wasmcli/{__version__}",
        **target.headers,
    }
    if target.gzip:
        import gzip

        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    where = display_url(target.url)
    before = f" ({sent_before:,} runs were sent before)" if sent_before else ""
    attempt = 0
    while True:
        request = urllib.request.Request(target.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=target.timeout_s) as response:
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code in RETRYABLE and attempt < retries:
                attempt += 1
                sleep(_retry_wait(exc.headers.get("Retry-After"), attempt))
                continue
            raise OtlpPushError(
                f"the OTLP collector at {where} refused the traces: HTTP {exc.code} "
                f"{exc.reason}{detail}{before}"
            ) from None
        except TimeoutError:
            raise OtlpPushError(
                f"the OTLP collector at {where} did not answer within "
                f"{target.timeout_s:g} s{before}"
            ) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise OtlpPushError(
                    f"the OTLP collector at {where} did not answer within "
                    f"{target.timeout_s:g} s{before}"
                ) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise OtlpPushError(
                f"cannot reach the OTLP collector at {where}: {text}{before}"
            ) from None
        except OSError as exc:  # a connection reset mid-request, and the like
            raise OtlpPushError(
                f"cannot send traces to the OTLP collector at {where}: "
                f"{exc.strerror or exc}{before}"
            ) from None


def _retry_wait(retry_after: str | None, attempt: int) -> float:
    """The collector's Retry-After (in seconds, bounded), else 0.5 s, 1 s, ..."""
    if retry_after is not None:
        try:
            return min(max(float(retry_after), 0.0), MAX_RETRY_WAIT_S)
        except ValueError:
            pass
    return min(0.5 * 2.0 ** (attempt - 1), MAX_RETRY_WAIT_S)


def _error_detail(exc: Any) -> str:
    """The collector's explanation when it sent readable text (a short one-line excerpt)."""
    try:
        content_type = exc.headers.get("Content-Type", "") or ""
        data = exc.read(2048)
    except Exception:  # noqa: BLE001 - the status line already says what happened
        return ""
    if not data or "protobuf" in content_type:
        return ""
    text = " ".join(data.decode("utf-8", "replace").split())
    return f": {text[:200]}" if text else ""


def _partial_success(answer: bytes) -> tuple[int, str]:
    """(rejected spans, the collector's message) from an ExportTraceServiceResponse."""
    if not answer:
        return 0, ""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    try:
        response.ParseFromString(answer)
    except DecodeError:
        return 0, ""  # a JSON or empty answer from a proxy: nothing to report
    partial = response.partial_success
    return int(partial.rejected_spans), partial.error_message
