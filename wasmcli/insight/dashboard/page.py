"""The dashboard as one self-contained HTML file: inline CSS and SVG, no script, no
network, so it opens from file:// anywhere and can be attached to a CI run.

Each listed run has its own page (a section shown when its #trace-ID is the target;
CSS alone switches between pages). Everything that comes from a plugin (binary names,
output, messages) is escaped (`svg.esc`). Numbers that `traces stats --json --by binary`
also gives carry `data-stat` attributes with the same values, so a test can compare.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any, Final

from wasmcli import __version__
from wasmcli.errors import KIND_DESCRIPTIONS
from wasmcli.humanize import (
    MISSING,
    format_bytes,
    format_duration,
    format_fuel,
    format_local_time,
    format_return_code,
    plural,
    short_id,
)
from wasmcli.insight.dashboard.data import DashboardData
from wasmcli.insight.dashboard.svg import (
    BAR_COLOR,
    FUEL_COLOR,
    StackedBar,
    esc,
    histogram,
    horizontal_bars,
    outcome_color,
    stacked_bars,
)
from wasmcli.insight.dashboard.timeline_svg import timeline_svg
from wasmcli.insight.diff import captured_output
from wasmcli.insight.stages import stage_durations
from wasmcli.insight.stats import GroupStats
from wasmcli.return_codes import return_code_meaning
from wasmcli.safe_text import printable
from wasmcli.tracing.events import ExecutionTrace

MAX_EVENT_ROWS: Final = 200
MAX_OUTPUT_LINES: Final = 100
MAX_LINE_CHARS: Final = 500

CSS: Final = """
:root { color-scheme: light; --muted: #666; --line: #e4e4e4; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 980px; padding: 16px;
       color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
.muted, .note { color: var(--muted); } .note { font-size: 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; min-width: 96px; }
.card .value { font-size: 20px; font-weight: 600; }
.card .label { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 13px; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { font-weight: 600; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d4f; } .fail { color: #c62828; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(270px, 1fr)); gap: 12px; }
.chart { max-width: 100%; height: auto; display: block; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; white-space: pre-wrap;
      word-break: break-all; }
code, .id { font-family: ui-monospace, monospace; font-size: 12px; }
a { color: #1f5fa8; }
.trace-page { display: none; }
.trace-page:target { display: block; }
body:has(.trace-page:target) #overview { display: none; }
"""


def _num(value: Any, text: str, stat: str | None = None, group: str | None = None) -> str:
    attributes = ""
    if stat is not None:
        attributes += f' data-stat="{esc(stat)}" data-value="{esc(_value(value))}"'
    if group is not None:
        attributes += f' data-group="{esc(group)}"'
    return f'<td class="num"{attributes}>{esc(text)}</td>'


def _value(value: Any) -> str:
    return "" if value is None else str(value)


def _ms(us: int | None) -> str:
    """Milliseconds with microsecond precision, as `traces stats --json` gives them."""
    return MISSING if us is None else f"{us / 1000:,.3f} ms"


def _rate(group: GroupStats) -> str:
    rate = group.success_rate
    return MISSING if rate is None else f"{100 * rate:.1f}%"


def _trace_link(trace: ExecutionTrace) -> str:
    return f'<a class="id" href="#trace-{esc(trace.trace_id)}">{esc(short_id(trace.trace_id))}</a>'


def _outcome(trace: ExecutionTrace) -> str:
    if trace.success:
        return '<span class="ok">ok</span>'
    return f'<span class="fail">{esc(trace.error_kind or "failed")}</span>'


def _binary(trace: ExecutionTrace) -> str:
    return esc(trace.binary_name or short_id(trace.binary_id))


def _when(trace: ExecutionTrace) -> str:
    return esc(format_local_time(trace.started_at, millis=False))


def _decoded_error(trace: ExecutionTrace) -> str:
    """The error in words: the kind and what it means, the message, the return code."""
    if trace.success:
        return ""
    parts = []
    kind = trace.error_kind
    meaning = next((d for k, d in KIND_DESCRIPTIONS.items() if k.value == kind), None)
    parts.append(f"<b>{esc(kind or 'failed')}</b>" + (f" ({esc(meaning)})" if meaning else ""))
    if trace.error_message:
        parts.append(esc(trace.error_message))
    if trace.return_code is not None and trace.return_code != 0:
        code = trace.return_code
        parts.append(f"returned {esc(format_return_code(code))}: {esc(return_code_meaning(code))}")
    return "<br>".join(parts)


# -- sections ---------------------------------------------------------------------------


def _header(data: DashboardData, serve_script: str) -> str:
    filters = ", ".join(f"{k} {v}" for k, v in data.filters.items()) or "all stored runs"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>wasmcli dashboard</title><style>{CSS}</style>{serve_script}</head><body>"
        f'<h1>wasmcli dashboard</h1><p class="muted">{esc(filters)} · generated '
        f"{esc(format_local_time(data.generated_at, millis=False))}"
        f" by wasmcli {esc(__version__)}</p>"
    )


def _summary(data: DashboardData) -> str:
    total = data.stats.total
    cards = [
        ("runs", f"{total.runs:,}", "runs", total.runs),
        ("success rate", _rate(total), "success_rate", total.success_rate),
        ("failed", f"{total.failed:,}", "failed", total.failed),
        ("duration p50", _ms(total.duration.p50), "duration_ms.p50", total.duration.p50),
        ("duration p90", _ms(total.duration.p90), "duration_ms.p90", total.duration.p90),
        ("duration p99", _ms(total.duration.p99), "duration_ms.p99", total.duration.p99),
        ("duration max", _ms(total.duration.max), "duration_ms.max", total.duration.max),
        ("fuel p50", format_fuel(total.fuel.p50), "fuel.p50", total.fuel.p50),
        ("fuel p90", format_fuel(total.fuel.p90), "fuel.p90", total.fuel.p90),
        ("fuel max", format_fuel(total.fuel.max), "fuel.max", total.fuel.max),
        ("output", format_bytes(total.output.total), "output_bytes.total", total.output.total),
    ]
    html = ['<section id="summary"><div class="cards">']
    for label, text, stat, value in cards:
        html.append(
            f'<div class="card"><div class="value" data-stat="{stat}" data-group="total" '
            f'data-value="{esc(_value(value))}">{esc(text)}</div>'
            f'<div class="label">{esc(label)}</div></div>'
        )
    html.append("</div></section>")
    return "".join(html)


def _over_time(data: DashboardData) -> str:
    over = data.over_time
    if not over.buckets:
        return ""
    fmt = "%H:%M" if over.bucket.total_seconds() < 86400 else "%m-%d"
    bars = [
        StackedBar(bucket.start.astimezone().strftime(fmt), bucket.counts)
        for bucket in over.buckets
    ]
    return (
        f'<section id="runs-over-time"><h2>Runs over time</h2><p class="note">'
        f"per {esc(_bucket_name(over.bucket))},"
        " by outcome (local time)</p>"
        + stacked_bars(bars, over.outcomes, "runs over time, stacked by outcome")
        + "</section>"
    )


def _bucket_name(bucket: timedelta) -> str:
    seconds = int(bucket.total_seconds())
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds % size == 0:
            count = seconds // size
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds} s"


def _per_binary(data: DashboardData) -> str:
    report = data.stats
    if not report.groups:
        return ""
    rows = []
    for group in report.groups:
        key = group.key or ""
        rows.append(
            f"<tr><td>{esc(group.label)}</td>"
            + _num(group.runs, f"{group.runs:,}", "runs", key)
            + _num(group.success_rate, _rate(group), "success_rate", key)
            + _num(group.duration.p50, _ms(group.duration.p50), "duration_ms.p50", key)
            + _num(group.duration.p90, _ms(group.duration.p90), "duration_ms.p90", key)
            + _num(group.duration.p99, _ms(group.duration.p99), "duration_ms.p99", key)
            + _num(group.duration.max, _ms(group.duration.max), "duration_ms.max", key)
            + _num(group.fuel.p50, format_fuel(group.fuel.p50), "fuel.p50", key)
            + _num(group.fuel.max, format_fuel(group.fuel.max), "fuel.max", key)
            + "</tr>"
        )
    heads = ["binary", "runs", "ok", "p50", "p90", "p99", "max", "fuel p50", "fuel max"]
    head = "".join(f"<th{' class=num' if i else ''}>{h}</th>" for i, h in enumerate(heads))
    charts = []
    for group in report.groups:
        charts.append(
            f"<div><h3>{esc(group.label)}</h3>"
            + histogram(
                group.duration_histogram,
                report.histogram_edges_us,
                f"durations of {group.label}",
                format_duration,
                BAR_COLOR,
            )
            + '<p class="note">duration (log scale)</p>'
            + (
                histogram(
                    group.fuel_histogram,
                    report.fuel_histogram_edges,
                    f"fuel of {group.label}",
                    format_fuel,
                    FUEL_COLOR,
                )
                + '<p class="note">fuel (log scale)</p>'
                if group.fuel.runs
                else ""
            )
            + "</div>"
        )
    return (
        '<section id="per-binary"><h2>Per binary</h2><table><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + "".join(rows)
        + '</tbody></table><p class="note">durations in ms; percentiles by the nearest-rank '
        "method, exact over the selected runs</p><h3>Duration and fuel distributions</h3>"
        + f'<div class="grid">{"".join(charts)}</div></section>'
    )


def _failures(data: DashboardData) -> str:
    total = data.stats.total
    if not total.failed:
        return '<section id="failures"><h2>Failures</h2><p class="ok">no failed runs</p></section>'
    kinds = [(k, n, outcome_color(k)) for k, n in total.failures_by_error_kind.items()]
    codes = [
        (c, n, outcome_color("plugin_error")) for c, n in total.failures_by_return_code.items()
    ]
    html = [
        '<section id="failures"><h2>Failures</h2><div class="grid"><div><h3>By error kind</h3>',
        horizontal_bars(kinds, "failures by error kind"),
        "</div>",
    ]
    if codes:
        html += [
            "<div><h3>By return code</h3>",
            horizontal_bars(codes, "failures by return code"),
            "</div>",
        ]
    html.append("</div></section>")
    return "".join(html)


def _runs_table(section: str, title: str, traces: Sequence[ExecutionTrace], note: str = "") -> str:
    if not traces:
        return ""
    rows = "".join(
        f"<tr><td>{_trace_link(t)}</td><td>{_when(t)}</td><td>{_binary(t)}</td>"
        f"<td>{_outcome(t)}</td><td class=num>{esc(format_duration(t.duration_us))}</td>"
        f"<td class=num>{esc(format_fuel(t.fuel_consumed))}</td></tr>"
        for t in traces
    )
    return (
        f'<section id="{section}"><h2>{esc(title)}</h2>'
        + (f'<p class="note">{esc(note)}</p>' if note else "")
        + "<table><thead><tr><th>run</th><th>started</th><th>binary</th><th>outcome</th>"
        "<th class=num>duration</th><th class=num>fuel</th></tr></thead><tbody>"
        + rows
        + "</tbody></table></section>"
    )


def _recent_failures(data: DashboardData) -> str:
    if not data.recent_failures:
        return ""
    rows = "".join(
        f"<tr><td>{_trace_link(t)}</td><td>{_when(t)}</td><td>{_binary(t)}</td>"
        f"<td>{_decoded_error(t)}</td></tr>"
        for t in data.recent_failures
    )
    return (
        '<section id="recent-failures"><h2>Recent failures</h2><table><thead><tr><th>run</th>'
        "<th>started</th><th>binary</th><th>error</th></tr></thead><tbody>"
        + rows
        + "</tbody></table></section>"
    )


def _trace_page(trace: ExecutionTrace) -> str:
    stages = stage_durations(trace)
    facts = [
        ("binary", _binary(trace)),
        ("started", _when(trace)),
        ("engine", esc(trace.engine or MISSING)),
        ("outcome", _outcome(trace)),
        ("return code", esc(format_return_code(trace.return_code))),
        ("duration", esc(format_duration(trace.duration_us))),
        ("fuel", esc(format_fuel(trace.fuel_consumed))),
        ("trace id", f"<code>{esc(trace.trace_id)}</code>"),
    ]
    stage_rows = "".join(
        f"<tr><td>{name}</td><td class=num>{esc(format_duration(stages.get(name)))}</td></tr>"
        for name in ("load", "instantiate", "process", "plugin")
    ) + "".join(
        f"<tr><td>&nbsp;&nbsp;load: {esc(step)}</td>"
        f"<td class=num>{esc(format_duration(us))}</td></tr>"
        for step, us in stages.load_steps.items()
    )
    html = [
        f'<section class="trace-page" id="trace-{esc(trace.trace_id)}">',
        '<p><a href="#">← back to the overview</a></p>',
        f"<h2>Run {esc(short_id(trace.trace_id))} of {_binary(trace)}</h2><table>",
        "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts),
        "</table>",
    ]
    if not trace.success:
        html.append(f"<h3>Error</h3><p>{_decoded_error(trace)}</p>")
    html += [
        "<h3>Timeline</h3>",
        timeline_svg(trace),
        "<table><tbody>",
        stage_rows,
        "</tbody></table>",
    ]
    html.append(_output(trace))
    html.append(_events(trace))
    html.append("</section>")
    return "".join(html)


def _output(trace: ExecutionTrace) -> str:
    output = captured_output(trace)
    if not output.lines:
        return '<h3>Output</h3><p class="muted">none</p>'
    shown = [_cut_line(line) for line in output.lines[:MAX_OUTPUT_LINES]]
    notes = []
    if len(output.lines) > MAX_OUTPUT_LINES:
        notes.append(
            f"the first {MAX_OUTPUT_LINES} of {len(output.lines):,} lines kept in the trace"
        )
    if output.cut:
        notes.append("the trace kept only part of the output")
    note = f'<p class="note">{esc("; ".join(notes))}</p>' if notes else ""
    text = "\n".join(esc_multiline(line) for line in shown)
    return f"<h3>Output</h3>{note}<pre>{text}</pre>"


def _cut_line(line: str) -> str:
    return line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "…"


def esc_multiline(text: str) -> str:
    """Escaped text that may keep its newlines (in a <pre>)."""
    import html

    return html.escape(printable(text), quote=True)


def _events(trace: ExecutionTrace) -> str:
    rows = []
    for event in trace.events[:MAX_EVENT_ROWS]:
        rows.append(
            f"<tr><td class=num>+{esc(format_duration(event.timestamp))}</td>"
            f"<td>{esc(event.event_type.value)}</td><td>{esc(_cut_line(event.message))}</td></tr>"
        )
    more = len(trace.events) - MAX_EVENT_ROWS
    note = (
        f'<p class="note">{more:,} more events: wasmcli traces show {esc(trace.trace_id)}</p>'
        if more > 0
        else ""
    )
    return (
        f"<h3>Events ({len(trace.events):,})</h3><table><thead><tr><th class=num>time</th>"
        "<th>event</th><th>message</th></tr></thead><tbody>"
        + "".join(rows)
        + f"</tbody></table>{note}"
    )


def _sections(data: DashboardData) -> Iterable[str]:
    yield '<main id="overview">'
    yield _summary(data)
    yield _over_time(data)
    yield _per_binary(data)
    yield _failures(data)
    yield _runs_table("slowest", "Slowest runs", data.slowest)
    yield _runs_table("fuel-hungry", "Most fuel-hungry runs", data.hungriest)
    yield _recent_failures(data)
    yield _runs_table(
        "latest",
        "Latest runs",
        data.latest,
        f"each run listed on this page has a page of its own ({plural(len(data.pages), 'run')})",
    )
    yield "</main>"
    for trace in data.pages:
        yield _trace_page(trace)


def dashboard_html(data: DashboardData, serve_script: str = "") -> str:
    """The whole page. `serve_script` is the small script `--serve` adds to reload the
    page when new runs are stored (the written file has none)."""
    if data.stats.total.runs == 0:
        body = '<p class="muted">No traces match.</p>'
        return _header(data, serve_script) + body + "</body></html>\n"
    return _header(data, serve_script) + "".join(_sections(data)) + "</body></html>\n"
