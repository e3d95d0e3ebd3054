"""Building the dashboard for a selection of traces: the one function the CLI calls."""

from __future__ import annotations

import sqlite3
from typing import Any

from wasmcli.insight.dashboard.data import gather
from wasmcli.insight.dashboard.page import dashboard_html
from wasmcli.store.traces import TraceFilter


def build_dashboard(
    conn: sqlite3.Connection, query: TraceFilter, filters: dict[str, Any], serve_script: str = ""
) -> str:
    """The dashboard's HTML for the traces `query` selects (`filters` as the user gave
    them, for the page's header)."""
    return dashboard_html(gather(conn, query, filters), serve_script)


def store_stamp(conn: sqlite3.Connection) -> str:
    """Changes whenever a run is stored or traces are deleted."""
    row = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM traces").fetchone()
    return f"{row[0]}-{row[1]}"
