"""The closing line of `run --batch` on stderr, and its progress bar."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from wasmcli.render.formatting import format_duration, format_fuel, plural

if TYPE_CHECKING:
    from rich.progress import Progress

    from wasmcli.runtime.batch_runner import BatchSummary


def batch_summary_line(summary: BatchSummary) -> str:
    """'batch 1f0c9a2e: 50 inputs: 48 ok, 1 plugin_error, 1 usage; fuel 12,345;
    p50 0.31 ms, p95 0.52 ms; exit 1: first failure at index 7 (id "b")'."""
    counts = summary.counts
    outcomes = [f"{counts['ok']:,} ok"] if counts.get("ok") else []
    outcomes += [f"{n:,} {kind}" for kind, n in sorted(counts.items()) if kind != "ok"]
    parts = [
        f"batch {summary.batch_id}: {plural(summary.total, 'input')}"
        + (f": {', '.join(outcomes)}" if outcomes else ""),
        f"fuel {format_fuel(summary.total_fuel)}",
    ]
    p50, p95 = summary.percentile_ms(0.5), summary.percentile_ms(0.95)
    if p50 is not None and p95 is not None:
        parts.append(f"p50 {_ms(p50)}, p95 {_ms(p95)}")
    parts.append(_ending(summary))
    return "; ".join(parts)


def _ending(summary: BatchSummary) -> str:
    first = summary.first_failure
    where = ""
    if first is not None:
        ident = first.data.get("id")
        where = f"first failure at index {first.index}" + (
            f" (id {json.dumps(ident, ensure_ascii=False)})" if ident is not None else ""
        )
    if summary.stopped_by is not None:
        from wasmcli.errors import signal_name

        return f"stopped by {signal_name(summary.stopped_by)}; exit {summary.exit_code}"
    if summary.failed_fast:
        return f"stopped at the {where}; exit {summary.exit_code}"
    return f"exit {summary.exit_code}" + (f": {where}" if where else "")


def _ms(ms: float) -> str:
    return format_duration(round(ms * 1000))


def batch_progress() -> Progress:
    """A progress bar on stderr (the CLI shows it only when stderr is a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from wasmcli.render.console import diag_console

    return Progress(
        TextColumn("batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=diag_console(),
        transient=True,
        # Results go to stdout untouched (a file, a pipe): never drawn by the console.
        redirect_stdout=False,
        redirect_stderr=False,
    )
