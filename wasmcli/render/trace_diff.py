"""What `wasmcli traces diff` prints: the two runs side by side, the output as a unified
diff, the events added and removed by type, the event flow as a diff, per-function fuel
when both runs were profiled, and the verdict (with the CI gates, when given)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from wasmcli.insight.diff import Change, Gate, Outcome, TextDiff, TraceDiff
from wasmcli.render import styles
from wasmcli.render.formatting import (
    MISSING,
    binary_label,
    format_bytes,
    format_duration,
    format_fuel,
    format_local_time,
    format_return_code,
    plural,
    short_id,
)
from wasmcli.render.tables import new_table
from wasmcli.safe_text import one_line

_STAGE_LABELS: Final = {
    "total": "duration",
    "load": "  load",
    "instantiate": "  instantiate",
    "process": "  process",
    "plugin": "  plugin time",
}
_STAGE_ORDER: Final = ("total", "load", "instantiate", "process", "plugin")
MAX_FUNCTIONS: Final = 20

ADDED_STYLE: Final = "green"
REMOVED_STYLE: Final = "red"
HUNK_STYLE: Final = "cyan"


def _count(value: int) -> str:
    return f"{value:,}"


def change_text(
    change: Change, formatter: Callable[[int], str] = _count, *, lower_is_better: bool = True
) -> Text:
    """'+12 (+30.0%)' colored by direction; '=' when equal; a dash when unknown."""
    delta = change.delta
    if delta is None:
        return Text(MISSING, style=styles.LABEL_STYLE)
    if delta == 0:
        return Text("=", style=styles.LABEL_STYLE)
    text = f"{'+' if delta > 0 else '-'}{formatter(abs(delta))}"
    percent = change.percent
    if percent is not None:
        text += f" ({percent:+.1f}%)"
    worse = delta > 0 if lower_is_better else delta < 0
    return Text(text, style=REMOVED_STYLE if worse else ADDED_STYLE)


def _outcome(outcome: Outcome) -> Text:
    if outcome.success:
        return Text("ok", style=styles.OK_STYLE)
    return Text(f"failed ({outcome.error_kind or 'unknown'})", style=styles.FAIL_STYLE)


def _same(equal: bool) -> Text:
    return Text("=" if equal else "changed", style=styles.LABEL_STYLE if equal else "bold yellow")


def _output_size(diff: TraceDiff, which: str) -> Text:
    captured = diff.output.old if which == "old" else diff.output.new
    size = format_bytes(captured.total_bytes) if captured.total_bytes is not None else MISSING
    text = f"{plural(len(captured.lines), 'line')}, {size}"
    if captured.cut:
        text += " (cut)"
    return Text(text)


def _side_by_side(diff: TraceDiff) -> Table:
    table = new_table()
    table.add_column("", no_wrap=True, style=styles.LABEL_STYLE)
    table.add_column("old", overflow="fold")
    table.add_column("new", overflow="fold")
    table.add_column("change", overflow="fold")
    old, new = diff.old_outcome, diff.new_outcome
    table.add_row("outcome", _outcome(old), _outcome(new), _same(old.same_as(new)))
    table.add_row(
        "return code",
        Text(format_return_code(old.return_code)),
        Text(format_return_code(new.return_code)),
        _same(old.return_code == new.return_code),
    )
    table.add_row(
        "error kind",
        Text(old.error_kind or MISSING),
        Text(new.error_kind or MISSING),
        _same(old.error_kind == new.error_kind),
    )
    if old.error_message or new.error_message:
        table.add_row(
            "error",
            Text(one_line(old.error_message or MISSING)),
            Text(one_line(new.error_message or MISSING)),
            _same(old.error_message == new.error_message),
        )
    table.add_row(
        "output",
        _output_size(diff, "old"),
        _output_size(diff, "new"),
        _same(diff.output.equal),
    )
    table.add_row(
        "fuel",
        Text(format_fuel(diff.fuel.old)),
        Text(format_fuel(diff.fuel.new)),
        change_text(diff.fuel, format_fuel),
        end_section=True,
    )
    for stage in _STAGE_ORDER:
        change = diff.stages[stage]
        table.add_row(
            _STAGE_LABELS[stage],
            Text(format_duration(change.old)),
            Text(format_duration(change.new)),
            change_text(change, format_duration),
        )
        if stage == "load":
            for step, step_change in diff.load_steps.items():
                table.add_row(
                    f"    {step}",
                    Text(format_duration(step_change.old), style=styles.DETAIL_STYLE),
                    Text(format_duration(step_change.new), style=styles.DETAIL_STYLE),
                    change_text(step_change, format_duration),
                )
    return table


def _title(diff: TraceDiff) -> Text:
    text = Text()
    for label, trace in (("old", diff.old), ("new", diff.new)):
        if label == "new":
            text.append("\n")
        text.append(f"{label}  ", style=styles.LABEL_STYLE)
        text.append(short_id(trace.trace_id), style=styles.ID_STYLE)
        text.append(f"  {binary_label(trace, with_id=False)}")
        started = format_local_time(trace.started_at, millis=False)
        text.append(f"  {started}  {trace.engine or MISSING}", style=styles.LABEL_STYLE)
    return text


def unified_text(diff: TextDiff) -> Text:
    text = Text()
    for index, line in enumerate(diff.lines):
        if index:
            text.append("\n")
        shown = one_line(line)
        if line.startswith(("+++", "---")):
            text.append(shown, style=styles.HEADER_STYLE)
        elif line.startswith("@@"):
            text.append(shown, style=HUNK_STYLE)
        elif line.startswith("+"):
            text.append(shown, style=ADDED_STYLE)
        elif line.startswith("-"):
            text.append(shown, style=REMOVED_STYLE)
        else:
            text.append(shown)
    if diff.more_lines:
        text.append(f"\n… {plural(diff.more_lines, 'more diff line')}", style=styles.NOTE_STYLE)
    return text


def _section(title: str) -> Text:
    return Text(f"\n{title}", style=styles.TITLE_STYLE)


def _event_counts(diff: TraceDiff) -> Table | Text:
    changed = {name: c for name, c in diff.event_counts.items() if c.delta}
    if not changed:
        return Text("the same number of events of each type", style=styles.LABEL_STYLE)
    table = new_table()
    table.add_column("event type", no_wrap=True)
    table.add_column("old", justify="right")
    table.add_column("new", justify="right")
    table.add_column("change", justify="right")
    for name, change in changed.items():
        delta = change.delta or 0
        table.add_row(
            name,
            f"{change.old or 0:,}",
            f"{change.new or 0:,}",
            Text(f"{delta:+,}", style=ADDED_STYLE if delta > 0 else REMOVED_STYLE),
        )
    return table


def _functions(diff: TraceDiff) -> Table:
    table = new_table()
    table.add_column("function", overflow="fold")
    table.add_column("old self fuel", justify="right")
    table.add_column("new self fuel", justify="right")
    table.add_column("change", justify="right")
    for function in (diff.functions or ())[:MAX_FUNCTIONS]:
        table.add_row(
            one_line(function.name),
            format_fuel(function.fuel.old),
            format_fuel(function.fuel.new),
            change_text(function.fuel, format_fuel),
        )
    return table


def verdict(diff: TraceDiff, gates: Iterable[Gate] = ()) -> Text:
    gates = tuple(gates)
    text = Text()
    if diff.equal:
        text.append("equal", style=styles.OK_STYLE)
        text.append(": same outcome, output and fuel")
    else:
        text.append("different", style="bold yellow")
        text.append(": " + ", ".join(diff.differences))
    if diff.output.compared_cut_text:
        text.append(" (output compared as far as the traces keep it)", style=styles.NOTE_STYLE)
    for gate in gates:
        text.append("\n")
        text.append(f"{gate.option} {gate.limit_percent:g}: ")
        text.append(
            "exceeded" if gate.exceeded else "passed",
            style=styles.FAIL_STYLE if gate.exceeded else styles.OK_STYLE,
        )
        text.append(f" ({gate.reason})", style=styles.LABEL_STYLE)
    return text


class DiffView:
    def __init__(self, diff: TraceDiff, gates: Iterable[Gate] = ()) -> None:
        self.diff = diff
        self.gates = tuple(gates)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        diff = self.diff
        yield _title(diff)
        yield _side_by_side(diff)
        yield _section("output")
        if diff.output.compared_cut_text:
            yield Text(_cut_note(diff), style=styles.NOTE_STYLE)
        if diff.output.diff.empty:
            yield Text(
                "no change" if diff.output.equal else "the kept text is the same; the sizes differ",
                style=styles.LABEL_STYLE,
            )
        else:
            yield unified_text(diff.output.diff)
        yield _section("events added or removed, by type")
        yield _event_counts(diff)
        if not diff.events.empty:
            yield _section("event flow (log lines are in the output above)")
            yield unified_text(diff.events)
        if diff.functions is not None:
            yield _section("fuel per function (self)")
            yield _functions(diff)
        yield Text()
        yield verdict(diff, self.gates)


def _cut_note(diff: TraceDiff) -> str:
    parts = []
    for label, captured in (("old", diff.output.old), ("new", diff.output.new)):
        if captured.cut:
            left = f"{captured.cut_bytes:,} bytes" if captured.cut_bytes else "some lines"
            parts.append(f"the {label} trace left {left} of its output out")
    return "compared cut text: " + "; ".join(parts) + " (traces keep at most 64 KiB of output)"
