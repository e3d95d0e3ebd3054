"""`wasmcli metrics`: Prometheus metrics over the stored traces, written or served.

Reads the database only (trace summaries): no engine is imported.
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmcli.cli.errors import guard, usage_error
from wasmcli.cli.state import home_folder, open_registry
from wasmcli.cli.traces_cmds import (
    BatchOpt,
    BinaryOpt,
    FailedOpt,
    LimitOpt,
    SinceOpt,
    SucceededOpt,
    UntilOpt,
    build_filter,
)

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry


@guard
def metrics(
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write them to FILE, replaced atomically (for node_exporter's textfile "
            "collector: a .prom file in its folder); '-' or none: stdout.",
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Serve /metrics on 127.0.0.1:PORT, fresh at every scrape."),
    ] = False,
    port: Annotated[
        int | None,
        typer.Option("--port", metavar="N", help="Port for --serve, 0 to 65535 (0: any free one)."),
    ] = None,
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Prometheus metrics of the stored runs: counts, durations, fuel.

    They count the stored traces, which retention bounds (the newest WASMCLI_MAX_TRACES,
    100 by default, within WASMCLI_MAX_TRACE_BYTES): wasmcli_runs_total is the number of
    stored runs, not of every run ever made.
    """
    if serve and output is not None:
        raise usage_error("--serve and --output cannot be used together")
    if serve and port is None:
        raise usage_error("--serve needs --port N (0: any free port)")
    if port is not None and not serve:
        raise usage_error("--port needs --serve")
    if port is not None and not 0 <= port <= 65535:
        raise usage_error("--port must be between 0 and 65535")
    path = None if output is None or output == "-" else Path(output)
    if path is not None:
        from wasmcli.integrations.report_file import check_report_path

        problem = check_report_path(path, "--output")
        if problem:
            raise usage_error(problem)
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit, batch)
    registry.conn.close()  # every exposition opens its own connection
    from wasmcli.integrations.prometheus import exposition, metrics_registry
    from wasmcli.store.db import open_database

    home = home_folder()
    collectors = metrics_registry(lambda: open_database(home), query)
    if serve:
        assert port is not None
        _serve(collectors, port)
        return
    text = exposition(collectors)
    if path is None:
        sys.stdout.buffer.write(text)
        return
    from wasmcli.errors import ErrorKind, WasmcliError
    from wasmcli.integrations.report_file import write_report

    try:
        write_report(path, text)
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot write {output}: {exc.strerror or exc}") from None


def _serve(collectors: "CollectorRegistry", port: int) -> None:
    from wasmcli.errors import ErrorKind, WasmcliError
    from wasmcli.integrations.prometheus_serve import make_metrics_server, stop_on_signals

    try:
        server = make_metrics_server(collectors, port)
    except OSError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}"
        ) from None
    # Ctrl-C, or SIGTERM from a service manager: the normal end, after the scrape at hand.
    stop_on_signals(server)
    sys.stderr.write(
        f"Serving metrics on http://127.0.0.1:{server.server_port}/metrics (Ctrl-C stops)\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    sys.stderr.write("Stopped.\n")
