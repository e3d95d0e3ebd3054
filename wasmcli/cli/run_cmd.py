"""`wasmcli run`: run a plugin under limits, print its output, exit with what happened."""

import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from wasmcli.cli.errors import guard, print_warning, silence_stdout, usage_error
from wasmcli.cli.state import open_registry
from wasmcli.config import RunConfig, parse_size
from wasmcli.errors import ErrorKind, WasmcliError, raise_terminated

I64_MIN, I64_MAX = -(2**63), 2**63 - 1


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


def stream_line(line: str) -> None:
    """Print one output line as the plugin logs it: a long run shows its progress, and
    a stopped one keeps what it printed. A reader that went away (`| head`) is not an
    error of the plugin's: the rest of its output is dropped."""
    try:
        sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP stop the plugin as Ctrl-C does: the run's trace is stored
    (error kind `terminated`) and wasmcli exits 128 + the signal. A signal that was
    ignored when wasmcli started (nohup's SIGHUP) stays ignored."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, raise_terminated)


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
            help="Wall-clock limit in ms [env WASMCLI_TIMEOUT_MS; default 5000].",
        ),
    ] = None,
    memory_limit_mb: Annotated[
        int | None,
        typer.Option(
            "--memory-limit-mb",
            metavar="MB",
            help="Memory cap in MB [env WASMCLI_MEMORY_LIMIT_MB; default 64].",
        ),
    ] = None,
    fuel: Annotated[
        int | None,
        typer.Option(
            "--fuel",
            metavar="N",
            help="Fuel limit [env WASMCLI_FUEL; default timeout_ms * 1,000,000].",
        ),
    ] = None,
    max_output: Annotated[
        str | None,
        typer.Option(
            "--max-output",
            metavar="SIZE",
            help="Output cap: bytes, or 64K, 1M [env WASMCLI_MAX_OUTPUT; default 1M].",
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
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No summary line on stderr (errors still shown).")
    ] = False,
) -> None:
    """Run a plugin and print its output."""
    if trace and no_trace:
        raise usage_error("--trace and --no-trace cannot be used together")
    if trace and quiet:
        raise usage_error("--trace and --quiet cannot be used together")
    for name, value in (("--seed", seed), ("--timestamp", timestamp)):
        if value is not None and not I64_MIN <= value <= I64_MAX:
            raise usage_error(f"{name} must fit in a signed 64-bit integer")
    config = RunConfig.from_env(
        timeout_ms=timeout_ms,
        memory_limit_mb=memory_limit_mb,
        fuel=fuel,
        max_output=parse_size(max_output, "--max-output") if max_output is not None else None,
        engine=engine.lower() if engine else None,
        env=parse_env_pairs(env or []),
        seed=seed,
        timestamp_ns=timestamp,
    )
    data = read_input(input_text, input_file)

    from wasmcli.runtime.executor import Executor
    from wasmcli.tracing.tracer import Tracer

    tracer = Tracer(enabled=False) if no_trace else None
    stop_on_signals()
    executor = Executor(open_registry(), tracer=tracer)
    result = executor.execute(binary, data, config, on_output=None if json_ else stream_line)

    if json_:
        sys.stdout.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    sys.stdout.flush()

    from wasmcli.render.console import diag_console

    if trace and result.trace is not None and result.trace_id is not None:
        from wasmcli.render.timeline import TraceTimeline

        diag_console().print(TraceTimeline(result.trace))
    elif not quiet or result.error is not None:
        from wasmcli.render.trace_table import SummaryLine

        diag_console().print(SummaryLine(result), soft_wrap=True)
    for warning in result.warnings:
        print_warning(warning)
    if result.exception is not None:
        from wasmcli.cli.errors import debug_enabled

        if debug_enabled():
            import traceback

            traceback.print_exception(result.exception)
    raise typer.Exit(result.exit_code)
