"""`wasmcli metrics --serve`: /metrics on 127.0.0.1, computed afresh for every scrape.

prometheus_client's WSGI app answers the scrape (it picks the OpenMetrics format when
the scraper asks for it, and the text format otherwise); wasmcli only binds it to
127.0.0.1 (the traces are the user's, not the network's) and answers 404 elsewhere.
Scrapes are served one at a time, each with its own database connection.

Ctrl-C and SIGTERM stop it between scrapes (`stop_on_signals`): the signal only asks the
serving loop to end, so a scrape in progress is answered, never cut by an exception
raised in the middle of writing it, and a second signal (a shell or a service manager
that signals the whole process group) changes nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.registry import CollectorRegistry

HOST: Final = "127.0.0.1"
METRICS_PATH: Final = "/metrics"


def make_metrics_server(registry: CollectorRegistry, port: int) -> WSGIServer:
    """A server for /metrics on 127.0.0.1:`port` (0: any free port; `server_port` says
    which). OSError when the port cannot be bound."""
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client.exposition import make_wsgi_app

    metrics_app = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in (METRICS_PATH, METRICS_PATH + "/"):
            body = b"wasmcli serves its metrics on /metrics\n"
            start_response(
                "404 Not Found",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        result: Iterable[bytes] = metrics_app(environ, start_response)
        return result

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # a line per scrape would drown the terminal

    return make_server(HOST, port, app, server_class=WSGIServer, handler_class=QuietHandler)


def stop_on_signals(server: WSGIServer) -> None:
    """SIGINT and SIGTERM end `server.serve_forever()` after the request at hand.

    `shutdown()` waits for the serving loop, which runs in this (the main) thread, so a
    helper thread calls it. Once stopping, both signals are ignored: Python puts back
    the default handlers as the interpreter exits, and a late second signal would then
    kill the process instead of letting it exit 0."""
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
