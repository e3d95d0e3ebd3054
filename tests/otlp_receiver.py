"""A local OTLP/HTTP receiver for the tests: 127.0.0.1, a free port, real protobuf.

It accepts POST /v1/traces (or any path: it records which), decodes each body with
opentelemetry-proto as a collector does (gunzipping `Content-Encoding: gzip`), and
answers with the next scripted status (200 with an ExportTraceServiceResponse when
nothing is scripted). It serves one request at a time in a daemon thread whose loop
is bounded: it stops when the test leaves the `with` block, and by itself after
`lifetime_s` whatever happens, so a failing test never leaves it running.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes  # as sent (gzip-compressed when Content-Encoding says so)
    request: ExportTraceServiceRequest

    @property
    def spans(self) -> list[Any]:
        return [
            span
            for resource_spans in self.request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer late (a slow collector); bounded by the receiver's stop


class OtlpReceiver:
    def __init__(self, lifetime_s: float = 120.0) -> None:
        self.received: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.lifetime_s = lifetime_s
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                raw = body
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(raw)
                receiver.received.append(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, request
                    )
                )
                reply = receiver.replies.popleft() if receiver.replies else None
                if reply is None:
                    answer = ExportTraceServiceResponse().SerializeToString()
                    reply = Reply(200, answer, {"Content-Type": "application/x-protobuf"})
                if reply.delay_s:
                    receiver._stop.wait(reply.delay_s)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 0.1  # handle_request returns this often to check the stop
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.server.handle_request()
        self.server.server_close()

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def spans(self) -> list[Any]:
        return [span for received in self.received for span in received.spans]


def free_port() -> int:
    """A port nothing listens on (bound, then closed): a collector that is down."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
