"""`wasmcli run REF --batch FILE`: one JSON result per input line on stdout, in order.

Thin: it opens the batch file, calls `runtime.batch.run_batch`, writes each result as
it comes and the closing summary on stderr, hands the results to the reports asked for
(`--junit`, GitHub Actions, `--otlp`: cli/run_reports.py), and exits with the batch's
exit code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

import typer

from wasmcli.cli.errors import print_warning, silence_stdout
from wasmcli.errors import ErrorKind, WasmcliError

if TYPE_CHECKING:
    from wasmcli.cli.run_reports import RunReports
    from wasmcli.config import RunConfig
    from wasmcli.integrations.records import RecordCollector
    from wasmcli.runtime.batch_runner import BatchResult, BatchSummary
    from wasmcli.store.registry import Registry
    from wasmcli.tracing.events import ExecutionTrace
    from wasmcli.tracing.tracer import Tracer


def run_batch_command(
    binary: str,
    batch_file: str,
    config: RunConfig,
    *,
    plain_lines: bool,
    jobs: int,
    fail_fast: bool,
    tracer: Tracer | None,
    quiet: bool,
    reports: RunReports | None = None,
) -> None:
    from wasmcli.cli.state import open_registry
    from wasmcli.runtime.batch import run_batch
    from wasmcli.runtime.batch_input import read_inputs

    lines, total = _open_lines(batch_file)
    inputs = read_inputs(lines, plain=plain_lines)
    progress = None if quiet or not _is_terminal(sys.stderr) else _Progress(total)
    records = None
    if reports is not None:
        from wasmcli.integrations.records import RecordCollector

        records = RecordCollector(binary)
    writer = _ResultWriter(progress, records)
    registry = open_registry()
    try:
        summary = run_batch(
            binary,
            inputs,
            config,
            on_result=writer,
            registry=registry,
            tracer=tracer,
            jobs=jobs,
            fail_fast=fail_fast,
        )
    finally:
        if progress is not None:
            progress.close()
    writer.close()
    from wasmcli.render.batch_summary import batch_summary_line

    if not quiet or summary.exit_code != 0:
        sys.stderr.write(batch_summary_line(summary) + "\n")
    kept = summary.traces_kept
    if kept is not None and kept < summary.traces_recorded:
        dropped = summary.traces_recorded - kept
        print_warning(
            f"retention dropped {dropped:,} of the batch's {summary.traces_recorded:,} traces "
            f"(WASMCLI_MAX_TRACES keeps the newest {tracer_limit(tracer)}); "
            f"{summary.traces_not_kept:,} results have trace_id null"
        )
    for warning in summary.warnings:
        print_warning(warning)
    if tracer is None and summary.traces_recorded:
        # Stored in the home (the default tracer): alerts may start firing with the batch.
        from wasmcli.cli.alert_hook import announce_batch_alerts

        announce_batch_alerts(registry, summary.batch_id)
    exit_code = summary.exit_code
    if reports is not None and records is not None:
        written = _write_reports(reports, records, summary, registry, batch_file)
        if not written and exit_code == 0:
            exit_code = ErrorKind.IO.exit_code  # the report the job asked for is missing
    raise typer.Exit(exit_code)


def _write_reports(
    reports: RunReports,
    records: RecordCollector,
    summary: BatchSummary,
    registry: Registry,
    batch_file: str,
) -> bool:
    """JUnit (one test case per input), GitHub annotations and summary, and the batch's
    stored traces to the OTLP collector; False when the JUnit file could not be written."""
    from wasmcli.cli.run_reports import report_runs

    traces: Iterable[ExecutionTrace] = ()
    if reports.otlp is not None:
        from wasmcli.store.traces import TraceFilter, TraceStore

        traces = TraceStore(registry.conn).iter(TraceFilter(batch_id=summary.batch_id))
    binary = records.records[0].binary if records.records else records.binary_ref
    return report_runs(
        reports,
        records.records,
        traces,
        title=f"wasmcli run {binary} --batch {batch_file}",
        batch=True,
    )


def tracer_limit(tracer: Tracer | None) -> str:
    if tracer is not None:
        return f"{tracer.max_traces:,}"
    from wasmcli.config import max_traces_from_env

    return f"{max_traces_from_env():,}"


def _open_lines(batch_file: str) -> tuple[Iterable[bytes], int | None]:
    """The file's lines, and their count when known up front (a file, not a pipe)."""
    if batch_file == "-":
        return sys.stdin.buffer, None
    try:
        data = Path(batch_file).read_bytes()
    except OSError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot read batch file {batch_file}: {exc.strerror or exc}"
        ) from None
    lines = data.splitlines(keepends=True)
    return lines, len(lines)


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


class _ResultWriter:
    """Each result as one JSON line on stdout; a reader that left (`| head`) ends the
    output, not the batch (its traces are still kept)."""

    def __init__(self, progress: _Progress | None, records: RecordCollector | None) -> None:
        self.progress = progress
        self.records = records  # for the reports, when some are asked for
        self.closed = False

    def __call__(self, result: BatchResult) -> None:
        if self.progress is not None:
            self.progress.advance(result.success)
        if self.records is not None:
            self.records.add_run_json(result.data)
        if self.closed:
            return
        try:
            sys.stdout.write(json.dumps(result.data, ensure_ascii=False) + "\n")
            if self.progress is not None:
                sys.stdout.flush()
        except BrokenPipeError:
            self.closed = True
            silence_stdout()

    def close(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()


class _Progress:
    def __init__(self, total: int | None) -> None:
        from wasmcli.render.batch_summary import batch_progress

        self.bar = batch_progress()
        self.task = self.bar.add_task("batch", total=total, failed=0)
        self.failed = 0
        self.bar.start()

    def advance(self, success: bool) -> None:
        self.failed += 0 if success else 1
        self.bar.update(self.task, advance=1, failed=self.failed)

    def close(self) -> None:
        self.bar.stop()
