"""`wasmcli dashboard --serve`: the dashboard on http://127.0.0.1:PORT/, rebuilt for each
request, and reloaded by the browser when new runs are stored.

The page polls /stamp (the number of stored runs and the newest one's sequence number)
every two seconds and reloads when it changes. Only 127.0.0.1 is bound: the traces are
the user's, not the network's. One request at a time, on the thread that opened the
database.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Final

POLL_MS: Final = 2000
HOST: Final = "127.0.0.1"


def reload_script(stamp: str) -> str:
    return (
        "<script>(function(){var s=" + json.dumps(stamp) + ";setInterval(function(){"
        'fetch("/stamp",{cache:"no-store"}).then(function(r){return r.text()})'
        ".then(function(t){if(t!==s){location.reload()}}).catch(function(){})},"
        f"{POLL_MS})" + "})();</script>"
    )


def make_server(
    port: int, build_page: Callable[[str], str], current_stamp: Callable[[], str]
) -> HTTPServer:
    """A server for the page (built by `build_page(stamp)`) and its stamp; port 0 picks
    a free port (server.server_address says which)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            path = self.path.split("?", 1)[0]
            if path == "/stamp":
                self._send(200, "text/plain; charset=utf-8", current_stamp())
            elif path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", build_page(current_stamp()))
            else:
                self._send(404, "text/plain; charset=utf-8", "not found\n")

        def _send(self, status: int, content_type: str, text: str) -> None:
            body = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # one line per request would drown the terminal

    return HTTPServer((HOST, port), Handler)
