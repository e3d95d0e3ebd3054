"""`wasmcli traces list/show/export/clear/stats/diff`: read and manage stored traces.

These commands only read the database: none of them imports an engine.
"""

import io
import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wasmcli.cli.errors import guard, usage_error
from wasmcli.cli.state import open_registry
from wasmcli.errors import WasmcliError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from wasmcli.profile.model import Profile
    from wasmcli.store.registry import Registry
    from wasmcli.store.traces import TraceFilter, TraceStore
    from wasmcli.tracing.events import ExecutionTrace, TraceEventType

app = typer.Typer(
    help="List, show, export, push and clear execution traces.",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXPORT_FORMATS = ("json", "jsonl", "chrome", "junit", "otlp", "folded", "speedscope")
# `traces list` shows the newest page and says how many more there are: its cost and
# memory do not grow with the number of traces stored.
DEFAULT_PAGE = 50

# Filter options shared by list, export and clear.
BinaryOpt = Annotated[
    str | None,
    typer.Option(
        "--binary", "-b", metavar="REF", help="Only runs of this binary (name, id, prefix or file)."
    ),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", metavar="TIME", help="Only runs from this time on: ISO time or 30m, 2h, 7d."
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until", metavar="TIME", help="Only runs up to this time: ISO time or 30m, 2h, 7d."
    ),
]
BatchOpt = Annotated[
    str | None,
    typer.Option(
        "--batch", metavar="ID", help="Only the runs of this `run --batch` (its batch id)."
    ),
]
FailedOpt = Annotated[bool, typer.Option("--failed", help="Only failed runs.")]
SucceededOpt = Annotated[bool, typer.Option("--succeeded", help="Only successful runs.")]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", "-n", metavar="N", help="At most this many, newest first (0: all)."),
]
ListLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        "-n",
        metavar="N",
        help=f"At most this many, newest first [default {DEFAULT_PAGE}; 0: all].",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def build_filter(
    registry: "Registry",
    binary: str | None,
    since: str | None,
    until: str | None,
    failed: bool,
    succeeded: bool,
    limit: int | None,
    batch: str | None = None,
) -> "TraceFilter":
    from wasmcli.store.traces import TraceFilter
    from wasmcli.tracing.timespec import parse_time_spec

    if failed and succeeded:
        raise usage_error("--failed and --succeeded cannot be used together")
    if limit is not None:
        from wasmcli.config import BOUNDS

        BOUNDS["limit"].check(limit, "--limit")
    try:
        since_at = parse_time_spec(since) if since else None
        until_at = parse_time_spec(until) if until else None
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    binary_id, binary_name = (None, None) if binary is None else _binary_filter(registry, binary)
    return TraceFilter(
        binary_id=binary_id,
        binary_name=binary_name,
        since=since_at,
        until=until_at,
        success=True if succeeded else False if failed else None,
        limit=limit or None,  # 0: no limit
        batch_id=batch.strip().lower() if batch is not None else None,
    )


def _binary_filter(registry: "Registry", ref: str) -> tuple[str | None, str | None]:
    from wasmcli.insight.refs import binary_scope

    return binary_scope(registry, ref)


def _store(registry: "Registry") -> "TraceStore":
    from wasmcli.store.traces import TraceStore

    return TraceStore(registry.conn)


@app.command("list")
@guard
def list_traces(
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: ListLimitOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List traces, newest first (the newest 50 unless --limit says otherwise)."""
    registry = open_registry()
    query = build_filter(
        registry,
        binary,
        since,
        until,
        failed,
        succeeded,
        DEFAULT_PAGE if limit is None else limit,
        batch,
    )
    store = _store(registry)
    traces = store.iter(query, with_events=False)
    if json_:
        shown = _write_json_array(
            {k: v for k, v in t.to_dict().items() if k != "events"} for t in traces
        )
    else:
        rows = list(traces)
        shown = len(rows)
        from wasmcli.render.console import data_console, diag_console
        from wasmcli.render.trace_table import traces_table

        if not rows:
            diag_console().print("No traces match." if query.filtered else "No traces yet.")
            return
        data_console().print(traces_table(rows))
    if query.limit is not None and shown == query.limit:
        more = store.count(query) - shown
        if more > 0:
            sys.stderr.write(
                f"{more:,} older trace{'s' if more != 1 else ''} not shown: "
                "--limit N shows more, --limit 0 all\n"
            )


def _write_json_array(items: Iterable[dict[str, object]]) -> int:
    """Stream a JSON array to stdout, one item at a time; how many were written."""
    count = 0
    out = sys.stdout
    out.write("[")
    for item in items:
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


@app.command("show")
@guard
def show(
    trace_id: Annotated[
        str | None, typer.Argument(metavar="TRACE_ID", help="Trace id or unique prefix.")
    ] = None,
    last: Annotated[bool, typer.Option("--last", help="Show the newest trace.")] = False,
    no_logs: Annotated[
        bool, typer.Option("--no-logs", help="Leave the plugin's log lines (PluginLog) out.")
    ] = False,
    events: Annotated[
        str | None,
        typer.Option(
            "--events",
            metavar="TYPE,...",
            help="Only these event types, e.g. FunctionCall,MemoryOp (case-insensitive).",
        ),
    ] = None,
    with_profile: Annotated[
        bool,
        typer.Option("--profile", help="Then the top functions of a profiled run's fuel."),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Show one trace as a timeline."""
    if (trace_id is None) == (not last):
        raise usage_error("give a trace id or --last (not both)")
    shown = _event_types(events, no_logs)
    store = _store(open_registry())
    if last:
        trace = store.latest()
        if trace is None:
            raise usage_error("No traces yet")
    else:
        assert trace_id is not None
        trace = store.get(trace_id)
    if json_:
        if shown is not None:
            trace = replace(trace, events=tuple(e for e in trace.events if e.event_type in shown))
        sys.stdout.write(trace.to_json() + "\n")
        return
    from wasmcli.render.console import data_console
    from wasmcli.render.timeline import TraceTimeline

    found = None
    if with_profile:
        from wasmcli.profile.model import NoProfile, profile_of

        try:
            found = profile_of(trace)  # before anything is printed: a usage error alone
        except NoProfile as exc:
            raise usage_error(str(exc)) from None
    data_console().print(TraceTimeline(trace, event_types=shown))
    if found is not None:
        from wasmcli.render.profile_view import ProfileView

        data_console().print()
        data_console().print(ProfileView(found, top=10))


def _event_types(events: str | None, no_logs: bool) -> "frozenset[TraceEventType] | None":
    """The event types `--events` and `--no-logs` keep; None: all of them."""
    if events is None and not no_logs:
        return None
    from wasmcli.tracing.events import TraceEventType

    by_name = {t.value.lower(): t for t in TraceEventType}
    if events is None:
        chosen = set(TraceEventType)
    else:
        chosen = set()
        for name in (part.strip() for part in events.split(",")):
            if name.lower() not in by_name:
                raise usage_error(
                    f"unknown event type {name!r} in --events: choose from "
                    + ", ".join(t.value for t in TraceEventType)
                )
            chosen.add(by_name[name.lower()])
    if no_logs:
        chosen.discard(TraceEventType.PLUGIN_LOG)
    return frozenset(chosen)


@app.command("export")
@guard
def export(
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="File to write ('-' or none: stdout)."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="json, jsonl, chrome (Perfetto), junit (JUnit XML), otlp (OTLP/JSON), "
            "folded (flamegraph.pl's folded stacks, fuel) or speedscope: the last two from "
            "profiled runs (run --profile).",
        ),
    ] = "json",
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Export traces as JSON, JSON Lines, Chrome Trace Event format, JUnit XML or OTLP/JSON."""
    fmt = fmt.lower()
    if fmt not in EXPORT_FORMATS:
        raise usage_error(
            f"unknown format {fmt!r}: choose json, jsonl, chrome, junit, otlp, folded or speedscope"
        )
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit, batch)
    # Read one trace at a time: JSON Lines streams, so its memory stays flat.
    traces = _store(registry).iter(query)
    write_export = _export_writer(fmt)
    if output is None or output == "-":
        write_export(traces, fmt, sys.stdout)
        return
    from wasmcli.errors import ErrorKind
    from wasmcli.store.files import open_user_file

    try:
        with open_user_file(Path(output)) as out:
            text = io.TextIOWrapper(out, "utf-8")
            count = write_export(traces, fmt, text)
            text.flush()
            text.detach()  # the file is open_user_file's to finish (fsync, rename)
    except FileNotFoundError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot write {output}: the folder {exc.filename} does not exist"
        ) from None
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot write {output}: {exc.strerror or exc}") from None
    sys.stderr.write(f"Exported {_traces(count)} to {output}\n")


def _export_writer(fmt: str) -> "Callable[[Iterable[ExecutionTrace], str, TextIO], int]":
    """The function that writes `fmt`: the trace formats, or the CI and observability
    ones (JUnit, OTLP/JSON), whose libraries are imported only for them."""
    if fmt in ("junit", "otlp"):
        from wasmcli.integrations.exports import write_ci_export

        return write_ci_export
    if fmt in ("folded", "speedscope"):
        from wasmcli.profile.exports import write_profile_export

        return write_profile_export
    from wasmcli.tracing.export import write_export

    return write_export


@app.command("push")
@guard
def push(
    otlp_endpoint: Annotated[
        str | None,
        typer.Option(
            "--otlp-endpoint",
            metavar="URL",
            help="The collector's OTLP/HTTP base URL; /v1/traces is added "
            "[env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is) or OTEL_EXPORTER_OTLP_ENDPOINT; "
            "default http://localhost:4318].",
        ),
    ] = None,
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Send traces to an OpenTelemetry collector (OTLP/HTTP, protobuf); exit 9 if it fails."""
    import os

    from wasmcli.integrations.otlp.config import resource_from_env, target_from_env

    target = target_from_env(otlp_endpoint, os.environ)
    resource = resource_from_env(os.environ)
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit, batch)
    from wasmcli.cli.errors import print_warning
    from wasmcli.integrations.otlp.push import display_url, push_traces

    # Read one trace at a time: requests hold at most a bounded batch of runs.
    report = push_traces(_store(registry).iter(query), target, resource)
    for warning in report.warnings:
        print_warning(warning)
    if report.traces == 0:
        sys.stderr.write("No traces to send.\n")
        return
    runs = f"{report.traces:,} trace{'s' if report.traces != 1 else ''}"
    requests = f"{report.requests:,} request{'s' if report.requests != 1 else ''}"
    sys.stderr.write(
        f"Sent {runs} ({report.spans:,} spans) to {display_url(target.url)} in {requests}\n"
    )


@app.command("clear")
@guard
def clear(
    trace_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="TRACE_ID", help="Delete these traces (ids or prefixes)."),
    ] = None,
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete traces: the ones given, or all, or those matching the filters."""
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit, batch)
    store = _store(registry)
    if trace_ids:
        if query.filtered or query.limit is not None:
            raise usage_error("give trace ids or filters, not both")
        ids = store.resolve_ids(trace_ids)
        matching = len(ids)
    else:
        matching = store.count(query)
        if query.limit is not None:
            matching = min(matching, query.limit)
    if matching == 0:
        sys.stderr.write("No traces to clear.\n")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise usage_error(f"refusing to delete {_traces(matching)} without --yes")
        if not confirm(f"Delete {_traces(matching)}?"):
            sys.stderr.write("Nothing deleted.\n")
            return
    deleted = store.delete_ids(ids) if trace_ids else store.delete(query)
    sys.stderr.write(f"Deleted {_traces(deleted)}.\n")


def _traces(count: int) -> str:
    return f"{count:,} trace{'s' if count != 1 else ''}"


def confirm(question: str) -> bool:
    """Ask on stderr, with the other diagnostics: stdout is data only (typer.confirm
    with err=True still writes a space to stdout). No answer (Ctrl-D) is a no."""
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


STATS_GROUPS = ("binary", "engine", "error_kind", "day", "hour")


@app.command("stats")
@guard
def stats(
    binary: BinaryOpt = None,
    batch: BatchOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    failed: FailedOpt = False,
    succeeded: SucceededOpt = False,
    limit: LimitOpt = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by", metavar="GROUP", help="Group by binary, engine, error_kind, day or hour."
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Runs, success rate, failures, duration and fuel percentiles, per group."""
    if by is not None and by.lower() not in STATS_GROUPS:
        raise usage_error(f"unknown --by {by!r}: choose {', '.join(STATS_GROUPS)}")
    registry = open_registry()
    query = build_filter(registry, binary, since, until, failed, succeeded, limit, batch)
    from wasmcli.insight.stats import GroupBy, trace_stats

    report = trace_stats(registry.conn, query, GroupBy(by.lower()) if by else None)
    if json_:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    from wasmcli.render.console import data_console, diag_console

    if report.total.runs == 0:
        diag_console().print("No traces match." if query.filtered else "No traces yet.")
        return
    from wasmcli.render.trace_stats import StatsView

    data_console().print(StatsView(report))


_TRACE_REF = "a trace id or prefix, last, last~N (N runs before the newest), BINARY:last~N"


@app.command("diff")
@guard
def diff(
    old: Annotated[str, typer.Argument(metavar="OLD", help=f"The first run: {_TRACE_REF}.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help=f"The second run: {_TRACE_REF}.")],
    max_fuel_increase: Annotated[
        float | None,
        typer.Option(
            "--max-fuel-increase",
            metavar="PCT",
            help="Exit 1 only when NEW uses more than PCT% more fuel than OLD.",
        ),
    ] = None,
    max_duration_increase: Annotated[
        float | None,
        typer.Option(
            "--max-duration-increase",
            metavar="PCT",
            help="Exit 1 only when NEW's plugin time (instantiate to end) is PCT% above OLD's.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Compare two runs: exit 0 when outcome, output and fuel are equal, 1 when not."""
    for option, value in (
        ("--max-fuel-increase", max_fuel_increase),
        ("--max-duration-increase", max_duration_increase),
    ):
        if value is not None and not value >= 0:
            raise usage_error(f"{option} must be a percentage of 0 or more")
    from wasmcli.insight.diff import check_gates, trace_diff
    from wasmcli.insight.refs import resolve_trace

    registry = open_registry()
    result = trace_diff(resolve_trace(registry, old), resolve_trace(registry, new))
    gates = check_gates(result, max_fuel_increase, max_duration_increase)
    if json_:
        data = {**result.to_dict(), "gates": [gate.to_dict() for gate in gates]}
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    else:
        from wasmcli.render.console import data_console
        from wasmcli.render.trace_diff import DiffView

        data_console().print(DiffView(result, gates))
    failing = any(gate.exceeded for gate in gates) if gates else not result.equal
    raise typer.Exit(1 if failing else 0)


@app.command("profile")
@guard
def profile(
    trace_ref: Annotated[str, typer.Argument(metavar="TRACE", help=f"The run: {_TRACE_REF}.")],
    top: Annotated[
        int, typer.Option("--top", metavar="N", help="Show the N functions with most self fuel.")
    ] = 15,
    json_: Annotated[bool, typer.Option("--json", help="Print the whole profile as JSON.")] = False,
) -> None:
    """Where a profiled run's fuel went: its top functions, then its hottest stacks."""
    if top < 1:
        raise usage_error("--top must be 1 or more")
    found = _profile(trace_ref)
    if json_:
        sys.stdout.write(json.dumps(dict(found.raw), ensure_ascii=False, indent=2) + "\n")
        return
    from wasmcli.render.console import data_console
    from wasmcli.render.profile_view import ProfileView

    data_console().print(ProfileView(found, top=top))


def _profile(trace_ref: str) -> "Profile":
    """The profile of the run `trace_ref` names; a usage error when it has none."""
    from wasmcli.insight.refs import resolve_trace
    from wasmcli.profile.model import NoProfile, profile_of

    trace = resolve_trace(open_registry(), trace_ref)
    try:
        return profile_of(trace)
    except NoProfile as exc:
        raise usage_error(str(exc)) from None


@app.command("flamegraph")
@guard
def flamegraph(
    trace_ref: Annotated[str, typer.Argument(metavar="TRACE", help=f"The run: {_TRACE_REF}.")],
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE", help="The SVG file to write.")
    ],
    icicle: Annotated[
        bool, typer.Option("--icicle", help="Draw it upside down: callers on top.")
    ] = False,
    diff: Annotated[
        str | None,
        typer.Option(
            "--diff",
            metavar="OTHER",
            help="Color by the change from another profiled run: red more fuel, blue less.",
        ),
    ] = None,
) -> None:
    """Draw a profiled run as an interactive SVG flamegraph of its fuel (no network)."""
    from wasmcli.profile.flamegraph import flamegraph_svg

    found = _profile(trace_ref)
    other = _profile(diff) if diff is not None else None
    svg = flamegraph_svg(found, icicle=icicle, diff_against=other)
    _write_text(output, svg)
    sys.stderr.write(f"Wrote the flamegraph of {found.trace_id[:8]} to {output}\n")


def _write_text(output: str, text: str) -> None:
    from wasmcli.errors import ErrorKind
    from wasmcli.store.files import open_user_file

    try:
        with open_user_file(Path(output)) as out:
            out.write(text.encode("utf-8"))
    except FileNotFoundError as exc:
        raise WasmcliError(
            ErrorKind.IO, f"Cannot write {output}: the folder {exc.filename} does not exist"
        ) from None
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot write {output}: {exc.strerror or exc}") from None
