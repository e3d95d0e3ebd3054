"""`wasmcli dashboard`: one self-contained HTML report of the stored runs, written to a
file or served on 127.0.0.1 (reloading as new runs are stored). Reads the database only:
no engine is imported."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from wasmcli.cli.errors import guard, usage_error
from wasmcli.cli.state import open_registry
from wasmcli.cli.traces_cmds import (
    BinaryOpt,
    FailedOpt,
    LimitOpt,
    SinceOpt,
    SucceededOpt,
    UntilOpt,
    build_filter,
)

DEFAULT_PORT = 8765


@guard
def dashboard(
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Write the HTML report here ('-': stdout)."
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Serve it on 127.0.0.1, reloading as new runs are stored."),
    ] = False,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            metavar="N",
            help=f"Port for --serve (0: any free one) [default {DEFAULT_PORT}].",
            show_default=False,
        ),
    ] = DEFAULT_PORT,
    binary: BinaryOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Write an HTML dashboard of the stored runs (charts, failures, one page per run)."""
    if output is None and not serve:
        raise usage_error("give --output FILE (or --serve)")
    if not 0 <= port <= 65535:
        raise usage_error("--port must be between 0 and 65535")
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit)
    filters: dict[str, Any] = {
        name: value
        for name, value in (
            ("binary", binary),
            ("since", since),
            ("until", until),
            ("failed only", failed or None),
            ("succeeded only", succeeded or None),
            ("newest", limit),
        )
        if value
    }
    from wasmcli.insight.dashboard.build import build_dashboard, store_stamp

    if output is not None:
        page = build_dashboard(registry.conn, query, filters)
        _write(output, page)
    if serve:
        from wasmcli.insight.dashboard.serve import make_server, reload_script

        def page_for(stamp: str) -> str:
            return build_dashboard(registry.conn, query, filters, reload_script(stamp))

        try:
            server = make_server(port, page_for, lambda: store_stamp(registry.conn))
        except OSError as exc:
            from wasmcli.errors import ErrorKind, WasmcliError

            raise WasmcliError(
                ErrorKind.IO, f"Cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}"
            ) from None
        sys.stderr.write(
            f"Serving the dashboard on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)\n"
        )
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            sys.stderr.write("Stopped.\n")
        finally:
            server.server_close()


def _write(output: str, page: str) -> None:
    data = page.encode("utf-8")
    if output == "-":
        sys.stdout.write(page)
        return
    from wasmcli.errors import ErrorKind, WasmcliError
    from wasmcli.humanize import format_bytes
    from wasmcli.store.files import open_user_file

    try:
        with open_user_file(Path(output)) as out:
            out.write(data)
    except FileNotFoundError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot write {output}: the folder {exc.filename} does not exist"
        ) from None
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot write {output}: {exc.strerror or exc}") from None
    sys.stderr.write(f"Wrote {output} ({format_bytes(len(data))})\n")
