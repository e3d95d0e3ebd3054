"""`wasmcli run`: run a plugin under limits, print its output, exit with what happened."""

import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from wasmcli.cli.errors import (
    debug_enabled,
    guard,
    print_warning,
    silence_stdout,
    usage_error,
)
from wasmcli.cli.state import open_registry
from wasmcli.errors import ErrorKind, WasmcliError, raise_terminated

if TYPE_CHECKING:
    from wasmcli.cli import run_reports
    from wasmcli.runtime.result import RunResult
    from wasmcli.tracing.tracer import Tracer


def read_input(input_text: str | None, input_file: str | None) -> bytes:
    """--input TEXT, --input-file PATH, or standard input (`-` or a pipe)."""
    if input_text is not None and input_file is not None:
        raise usage_error("--input and --input-file cannot be used together")
    if input_text is not None:
        # surrogateescape keeps bytes that were not UTF-8 in argv, so the check sees them.
        return input_text.encode("utf-8", "surrogateescape")
    if input_file == "-" or (input_file is None and not _stdin_is_terminal()):
        return sys.stdin.buffer.read()
    if input_file is not None:
        try:
            return Path(input_file).read_bytes()
        except OSError as exc:
            raise WasmcliError(
                ErrorKind.IO, f"Cannot read input file {input_file}: {exc.strerror or exc}"
            ) from None
    return b""


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is None or sys.stdin.isatty()
    except (AttributeError, ValueError):
        return True


class OutputStream:
    """Prints each output line as the plugin logs it: a long run shows its progress, and
    a stopped one keeps what it printed.

    A reader that went away (`| head`) is not an error of the plugin's: the rest of its
    output is dropped. An output that cannot be written at all (stdout closed, a full
    disk) is the run's io error: raised once, it stops the plugin as the output cap does,
    and the trace records it. One per run: nothing is shared between invocations.
    """

    def __init__(self) -> None:
        self.done = False  # the reader left, or the output was lost: write no more

    def __call__(self, line: str) -> None:
        if self.done:
            return
        try:
            stdout_or_fail().buffer.write(line.encode("utf-8") + b"\n")
            sys.stdout.flush()
        except BrokenPipeError:
            self.done = True
            silence_stdout()
        except OSError as exc:
            self.done = True
            raise output_lost(exc.strerror or str(exc)) from None
        except WasmcliError:
            self.done = True
            raise


def stdout_or_fail() -> TextIO:
    if sys.stdout is None:  # started with stdout closed (`wasmcli run ... >&-`)
        raise output_lost("stdout is closed")
    return sys.stdout


def output_lost(reason: str) -> WasmcliError:
    return WasmcliError(ErrorKind.IO, f"The output could not be written: {reason}", stage="output")


def write_json(data: dict[str, object]) -> None:
    import json

    try:
        stdout_or_fail().write(json.dumps(data, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
    except OSError as exc:
        raise output_lost(exc.strerror or str(exc)) from None


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop the plugin as Ctrl-C does: the run's trace is stored
    (error kind `terminated`) and wasmcli exits 128 + the signal. A signal that was
    ignored when wasmcli started (nohup's SIGHUP) stays ignored."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, raise_terminated)


MAX_JOBS = 64


def _check_batch_options(
    batch: str | None,
    batch_lines: bool,
    jobs: int | None,
    fail_fast: bool,
    input_text: str | None,
    input_file: str | None,
    trace: bool,
) -> None:
    if batch is None:
        for given, name in (
            (batch_lines, "--batch-lines"),
            (jobs is not None, "--jobs"),
            (fail_fast, "--fail-fast"),
        ):
            if given:
                raise usage_error(f"{name} needs --batch FILE")
        return
    if input_text is not None or input_file is not None:
        raise usage_error("--batch reads the inputs from its file: drop --input/--input-file")
    if trace:
        raise usage_error(
            "--trace draws one run: with --batch, use `wasmcli traces list --batch ID`"
        )
    if jobs is not None and not 1 <= jobs <= MAX_JOBS:
        raise usage_error(f"--jobs must be between 1 and {MAX_JOBS} (got {jobs})")


def parse_env_pairs(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise usage_error(f"invalid --env {pair!r}: use KEY=VALUE")
        env[key] = value
    return env


@guard
def run(
    binary: Annotated[
        str,
        typer.Argument(
            metavar="BINARY", help="A .wasm/.wat file, a registered name, an id or an id prefix."
        ),
    ],
    input_text: Annotated[
        str | None, typer.Option("--input", "-i", metavar="TEXT", help="Input text.")
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input-file", "-f", metavar="PATH", help="Read input from a file ('-': stdin)."
        ),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", "-e", metavar="KEY=VALUE", help="KEY=VALUE added to the env JSON (repeatable)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", metavar="N", help="random_seed in the env JSON (reproducible runs)."
        ),
    ] = None,
    timestamp: Annotated[
        int | None,
        typer.Option("--timestamp", metavar="NS", help="timestamp in the env JSON, unix ns."),
    ] = None,
    timeout_ms: Annotated[
        int | None,
        typer.Option(
            "--timeout-ms",
            metavar="MS",
            help=(
                "Wall-clock limit in ms, 1 to 86400000 (24 h) "
                "[env WASMCLI_TIMEOUT_MS; default 5000]."
            ),
        ),
    ] = None,
    memory_limit_mb: Annotated[
        int | None,
        typer.Option(
            "--memory-limit-mb",
            metavar="MB",
            help="Memory cap in MB, 1 to 4096 [env WASMCLI_MEMORY_LIMIT_MB; default 64].",
        ),
    ] = None,
    fuel: Annotated[
        int | None,
        typer.Option(
            "--fuel",
            metavar="N",
            help="Fuel limit, 1 to 2^63-1 [env WASMCLI_FUEL; default timeout_ms * 1,000,000].",
        ),
    ] = None,
    max_output: Annotated[
        str | None,
        typer.Option(
            "--max-output",
            metavar="SIZE",
            help="Output cap: bytes, or 64K, 1M; at most 1G [env WASMCLI_MAX_OUTPUT; default 1M].",
        ),
    ] = None,
    max_call_depth: Annotated[
        int | None,
        typer.Option(
            "--max-call-depth",
            metavar="N",
            help=(
                "Call-depth limit: frames of the plugin's functions at once, 1 to 1000000 "
                "[env WASMCLI_MAX_CALL_DEPTH; default 1000]."
            ),
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            metavar="ENGINE",
            help="auto, wasmtime or wasmer [env WASMCLI_ENGINE; default auto].",
        ),
    ] = None,
    json_: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the output and the outcome.")
    ] = False,
    trace: Annotated[
        bool, typer.Option("--trace", help="Print the run's timeline on stderr.")
    ] = False,
    no_trace: Annotated[
        bool, typer.Option("--no-trace", help="Record no trace for this run.")
    ] = False,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile",
            help="Record where the fuel went, per function and call stack, in the trace "
            "(see `traces profile`); calls cost a few microseconds more.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No summary line on stderr (errors still shown).")
    ] = False,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            metavar="FILE",
            help="Run every line of FILE ('-': stdin) as one input: a JSON object with "
            "id, input, input_b64, env, seed, timestamp (all optional); prints one JSON "
            "result per input, in order.",
        ),
    ] = None,
    batch_lines: Annotated[
        bool, typer.Option("--batch-lines", help="With --batch: each line is the input text.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help=f"With --batch: N worker processes, 1 to {MAX_JOBS} [default 1].",
        ),
    ] = None,
    fail_fast: Annotated[
        bool,
        typer.Option("--fail-fast", help="With --batch: stop at the first input that fails."),
    ] = False,
    junit: Annotated[
        str | None,
        typer.Option(
            "--junit",
            metavar="FILE",
            help="Also write a JUnit XML report to FILE: one test case per run, or per "
            "input with --batch.",
        ),
    ] = None,
    ci: Annotated[
        str | None,
        typer.Option(
            "--ci",
            metavar="MODE",
            help="auto, github or none: GitHub Actions error annotations and job summary "
            "[default auto: on when GITHUB_ACTIONS=true].",
        ),
    ] = None,
    otlp: Annotated[
        bool,
        typer.Option(
            "--otlp",
            help="Also send the run's trace (each input's, with --batch) to an OTLP collector "
            "[env OTEL_EXPORTER_OTLP_ENDPOINT; default http://localhost:4318]; "
            "a collector that is down is a warning.",
        ),
    ] = False,
) -> None:
    """Run a plugin and print its output (or, with --batch, one JSON result per input)."""
    _check_batch_options(batch, batch_lines, jobs, fail_fast, input_text, input_file, trace)
    if trace and no_trace:
        raise usage_error("--trace and --no-trace cannot be used together")
    if trace and quiet:
        raise usage_error("--trace and --quiet cannot be used together")
    if profile and no_trace:
        raise usage_error("--profile records into the trace: it cannot be used with --no-trace")
    from wasmcli.config import RunConfig, parse_size

    # Everything a user typed is checked before the run: a usage error is not a run.
    config = RunConfig.from_env(
        timeout_ms=timeout_ms,
        memory_limit_mb=memory_limit_mb,
        fuel=fuel,
        max_output=parse_size(max_output, "--max-output") if max_output is not None else None,
        max_call_depth=max_call_depth,
        engine=engine.lower() if engine else None,
        profile=profile or None,
        env=parse_env_pairs(env or []),
        seed=seed,
        timestamp_ns=timestamp,
    )
    check_engine(config.engine)
    reports = None
    if wanted_reports(junit, ci, otlp):
        from wasmcli.cli import run_reports

        reports = run_reports.plan(junit, ci, otlp, no_trace, batch=batch is not None)
    if batch is not None:
        from wasmcli.cli.batch_cmd import run_batch_command
        from wasmcli.tracing.tracer import Tracer as BatchDefault

        stop_on_signals()
        run_batch_command(
            binary,
            batch,
            config,
            plain_lines=batch_lines,
            jobs=jobs or 1,
            fail_fast=fail_fast,
            tracer=BatchDefault(enabled=False) if no_trace else None,
            quiet=quiet,
            reports=reports,
        )
    data = read_input(input_text, input_file)
    if json_:
        stdout_or_fail()  # the JSON comes after the run: a closed stdout is known now

    from wasmcli.runtime.executor import Executor

    stop_on_signals()
    registry = open_registry()
    tracer = _tracer(trace or (reports is not None and reports.otlp is not None), no_trace)
    executor = Executor(registry, tracer=tracer)
    result = executor.execute(binary, data, config, on_output=None if json_ else OutputStream())
    if result.error is not None and result.error.kind is ErrorKind.USAGE:
        raise usage_error(result.error.message)  # found during the run; still not a run
    if json_:
        write_json(result.to_dict())
    report(result, binary, timeline=trace, quiet=quiet)
    if tracer is None and result.trace is not None and result.trace_id is not None:
        # Stored in the home (the default tracer): alerts may start firing with it.
        from wasmcli.cli.alert_hook import announce_alerts

        announce_alerts(registry, [result.trace])
    exit_code = result.exit_code
    if reports is not None and not _write_reports(reports, result, binary) and exit_code == 0:
        exit_code = ErrorKind.IO.exit_code  # the report the job asked for is missing
    raise typer.Exit(exit_code)


def wanted_reports(junit: str | None, ci: str | None, otlp: bool) -> bool:
    """Whether --junit, --ci, --otlp or GitHub Actions may ask for reports (checked
    without importing them: most runs need none)."""
    import os

    return bool(junit or otlp or ci is not None or os.environ.get("GITHUB_ACTIONS"))


def _write_reports(reports: "run_reports.RunReports", result: "RunResult", ref: str) -> bool:
    from wasmcli.cli import run_reports
    from wasmcli.integrations.records import RecordCollector

    records = RecordCollector(ref)
    record = records.add_run_json(result.to_dict())
    return run_reports.report_runs(
        reports,
        records.records,
        [result.trace] if result.trace is not None else [],
        title=f"wasmcli run {record.binary}",
        batch=False,
    )


def check_engine(name: str) -> None:
    """An engine this Python lacks is a usage error, found before anything runs."""
    from wasmcli.engines import resolve_engine_name, wasmer_unavailable_reason

    if resolve_engine_name(name) == "wasmer":
        reason = wasmer_unavailable_reason()
        if reason is not None:
            raise usage_error(reason[0].upper() + reason[1:])


def _tracer(timeline: bool, no_trace: bool) -> "Tracer | None":
    """None: the executor's default (WASMCLI_TRACE, WASMCLI_MAX_TRACES, the database).

    `timeline`: the run's trace is needed even where WASMCLI_TRACE=0 stores none (to draw
    it with --trace, or to send it with --otlp)."""
    from wasmcli.config import tracing_enabled_from_env
    from wasmcli.tracing.tracer import Tracer

    if no_trace:
        return Tracer(enabled=False)
    if timeline and not tracing_enabled_from_env():
        # --trace and --otlp win over WASMCLI_TRACE=0: the trace is made, not stored.
        return Tracer(enabled=True)
    return None


def report(result: "RunResult", ref: str, *, timeline: bool, quiet: bool) -> None:
    """The summary line (or the timeline) on stderr, then any warning."""
    from wasmcli.render.console import diag_console

    if timeline and result.trace is not None and result.trace_id is not None:
        from wasmcli.render.timeline import TraceTimeline

        diag_console().print(TraceTimeline(result.trace))
    elif not quiet or result.error is not None:
        from wasmcli.render.summary import RunSummary, SummaryLine

        summary = RunSummary.from_result(result)
        if result.binary_id is None:  # never loaded: name what the user asked to run
            summary = replace(summary, binary=f"{ref} (not loaded)")
        diag_console().print(SummaryLine(summary), soft_wrap=True)
    for warning in result.warnings:
        print_warning(warning)
    if result.exception is not None and debug_enabled():
        import traceback

        traceback.print_exception(result.exception)
