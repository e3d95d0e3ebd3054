"""What `run` reports besides its output: `--junit FILE`, GitHub Actions (`--ci`), `--otlp`.

Planned before the run (a bad value is a usage error, and not a run), carried out after
it, for one run or for every input of a batch:
- `--otlp` sends each run's trace to the OTLP collector; a collector that is down or
  refuses costs one warning line, never the run's verdict (one try, at most 2 s);
- `--junit FILE` writes a JUnit report; one that cannot be written is an error line,
  and a successful run then exits 9 (the report the job asked for is missing);
- inside GitHub Actions (or with `--ci github`): an `::error` annotation per failed run
  on stderr, and the job summary's table when GITHUB_STEP_SUMMARY is set (a summary that
  cannot be written is a warning).
This module is imported only when one of them is asked for or GitHub Actions is seen
(`run_cmd.wanted_reports`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from wasmcli.cli.errors import print_error, print_warning, usage_error

if TYPE_CHECKING:
    from wasmcli.integrations.otlp.config import OtlpTarget
    from wasmcli.integrations.records import RunRecord
    from wasmcli.tracing.events import ExecutionTrace

# A run never waits longer than this for a collector.
RUN_OTLP_TIMEOUT_S: Final = 2.0


@dataclass(frozen=True)
class RunReports:
    junit: Path | None = None
    github: bool = False
    step_summary: Path | None = None
    otlp: OtlpTarget | None = None
    otlp_resource: Mapping[str, object] | None = None


def plan(
    junit: str | None, ci: str | None, otlp: bool, no_trace: bool, *, batch: bool = False
) -> RunReports:
    """The reports asked for, checked before the run (usage errors)."""
    from wasmcli.integrations.github import CI_MODES, github_enabled

    mode = (ci or "auto").lower()
    if mode not in CI_MODES:
        raise usage_error(f"unknown --ci {ci!r}: choose auto, github or none")
    junit_path = None
    if junit:
        from wasmcli.integrations.report_file import check_report_path

        junit_path = Path(junit)
        problem = check_report_path(junit_path, "--junit")
        if problem:
            raise usage_error(problem)
    github = github_enabled(mode, os.environ)
    summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip() if github else ""
    target = resource = None
    if otlp:
        if no_trace:
            raise usage_error("--otlp sends the run's trace: it cannot be used with --no-trace")
        from wasmcli.config import tracing_enabled_from_env

        if batch and not tracing_enabled_from_env():
            # A single run makes its trace to send it anyway; a batch sends what it stored.
            raise usage_error(
                "--otlp with --batch sends the batch's stored traces: WASMCLI_TRACE=0 stores none"
            )
        from wasmcli.integrations.otlp.config import resource_from_env, target_from_env

        target = target_from_env(None, os.environ, max_timeout_s=RUN_OTLP_TIMEOUT_S)
        resource = resource_from_env(os.environ)
    return RunReports(junit_path, github, Path(summary) if summary else None, target, resource)


def report_runs(
    reports: RunReports,
    records: Sequence[RunRecord],
    traces: Iterable[ExecutionTrace],
    *,
    title: str,
    batch: bool,
) -> bool:
    """Everything asked for, after the runs (one, or a batch's inputs in order): the
    traces to the collector, then the JUnit file and the GitHub reports. False when the
    JUnit file could not be written."""
    send_traces(reports, traces)
    return write(reports, records, title=title, batch=batch)


def send_traces(reports: RunReports, traces: Iterable[ExecutionTrace]) -> None:
    """`--otlp`: send the runs' traces; a failure is a warning, never the run's."""
    if reports.otlp is None:
        return
    from wasmcli.errors import WasmcliError
    from wasmcli.integrations.otlp.push import push_traces

    try:
        report = push_traces(traces, reports.otlp, reports.otlp_resource, retries=0)
    except WasmcliError as exc:
        print_warning(f"{exc.message}; the run's trace was not sent (the run's outcome stands)")
        return
    for warning in report.warnings:
        print_warning(warning)


def write(reports: RunReports, records: Sequence[RunRecord], *, title: str, batch: bool) -> bool:
    """The JUnit file and the GitHub reports; False when the JUnit file could not be
    written (the error is printed)."""
    written = True
    if reports.junit is not None:
        from wasmcli.integrations.junit import write_junit

        try:
            write_junit(reports.junit, records, name=title)
        except OSError as exc:
            print_error(f"cannot write the JUnit report {reports.junit}: {exc.strerror or exc}")
            written = False
    if reports.github:
        from wasmcli.integrations.github import (
            append_summary,
            summary_markdown,
            write_annotations,
        )

        try:
            write_annotations(records, sys.stderr, batch=batch)
        except (OSError, ValueError):
            pass  # stderr closed: the exit code still says what happened
        if reports.step_summary is not None:
            try:
                append_summary(
                    reports.step_summary, summary_markdown(records, title=title, batch=batch)
                )
            except OSError as exc:
                print_warning(
                    f"cannot append to GITHUB_STEP_SUMMARY {reports.step_summary}: "
                    f"{exc.strerror or exc}"
                )
    return written
