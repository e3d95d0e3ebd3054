"""What `wasmcli alerts check` and `alerts list` print, and the `alert:` line of a run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from wasmcli.insight.alerts.evaluate import AlertStatus
from wasmcli.render import styles
from wasmcli.render.formatting import format_local_time, plural, short_id
from wasmcli.return_codes import return_code_name
from wasmcli.safe_text import one_line

MAX_IDS_SHOWN: Final = 10
FIRING_STYLE: Final = "bold red"


def _filters(status: AlertStatus) -> str:
    """The runs a rule counts, in its TOML's words: 'error_kind = "trap" of binary "x"'."""
    rule = status.rule
    parts = []
    for key, value in rule.filters().items():
        if key == "binary":
            continue
        if key == "return_code":
            parts.append(f"return_code = {value} ({return_code_name(value)})")
        else:
            parts.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    text = ", ".join(parts) if parts else "failed runs"
    if rule.binary is not None:
        text += f" of binary {json.dumps(rule.binary, ensure_ascii=False)}"
    return one_line(text)


def _since(status: AlertStatus) -> str:
    if status.since is None:
        return ""
    text = f"since {format_local_time(status.since, millis=False)}"
    return text + (f" (run {short_id(status.since_trace_id)})" if status.since_trace_id else "")


def _ids(status: AlertStatus) -> str:
    shown = [short_id(trace_id) for trace_id in status.trace_ids[:MAX_IDS_SHOWN]]
    more = status.matching - len(shown)
    return " ".join(shown) + (f" and {more:,} more" if more > 0 else "")


class AlertsCheckView:
    """Each firing alert with its matching runs; one line for the rules that do not fire."""

    def __init__(self, statuses: Sequence[AlertStatus]) -> None:
        self.statuses = statuses

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        firing = [s for s in self.statuses if s.firing]
        for status in firing:
            head = Text("FIRING ", style=FIRING_STYLE)
            head.append(one_line(status.rule.name), style=styles.TITLE_STYLE)
            if status.new:
                head.append("  new", style="bold yellow")
            head.append(f"  {status.rule.condition.text}", style=styles.LABEL_STYLE)
            yield head
            yield Text(f"  {status.summary()}; counting {_filters(status)}")
            if status.since is not None:
                yield Text(f"  {_since(status)}", style=styles.LABEL_STYLE)
            if status.trace_ids:
                line = Text("  runs: ", style=styles.LABEL_STYLE)
                line.append(_ids(status), style=styles.ID_STYLE)
                yield line
        quiet = len(self.statuses) - len(firing)
        total = plural(len(self.statuses), "alert rule")
        if firing:
            yield Text(f"{len(firing)} of {total} firing", style=FIRING_STYLE)
        else:
            yield Text(f"no alert firing ({total} checked)", style=styles.OK_STYLE)
        if firing and quiet:
            yield Text(
                f"{plural(quiet, 'rule')} not firing: `wasmcli alerts list` shows them",
                style=styles.NOTE_STYLE,
            )


class AlertsListView:
    """Every rule: its state, its condition and what it counts, and where it stands now."""

    def __init__(self, statuses: Sequence[AlertStatus]) -> None:
        self.statuses = statuses

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for status in self.statuses:
            head = Text()
            head.append(one_line(status.rule.name), style=styles.TITLE_STYLE)
            if status.firing:
                head.append("  firing", style=FIRING_STYLE)
                if status.since is not None:
                    head.append(f" {_since(status)}", style=styles.LABEL_STYLE)
            else:
                head.append("  ok", style=styles.OK_STYLE)
            yield head
            yield Text(f"  {status.rule.condition.text}, counting {_filters(status)}")
            yield Text(f"  now: {status.summary()}", style=styles.LABEL_STYLE)


def alert_line(status: AlertStatus) -> str:
    """The line a run prints on stderr when an alert starts firing with it."""
    newest = f"; newest run {short_id(status.trace_ids[0])}" if status.trace_ids else ""
    return (
        f"alert: {one_line(status.rule.name)} started firing: {status.summary()}"
        f" ({status.rule.condition.text}){newest}"
    )
