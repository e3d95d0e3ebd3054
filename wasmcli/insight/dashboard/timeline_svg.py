"""A run's timeline as SVG: loading (its steps), instantiation and `process` as bars,
every event as a tick colored by its category, hover for details.

Loading and the plugin's own time differ by orders of magnitude (importing an engine
takes 100 ms, a plugin often 1 ms), so, like the terminal timeline, the drawing is split:
loading on the left third, the rest of the run on the right, each on its own scale.
"""

from __future__ import annotations

from typing import Final

from wasmcli.humanize import format_duration
from wasmcli.insight.dashboard.svg import FONT, esc
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType
WIDTH: Final = 900
LANE: Final = 20
LABEL_W: Final = 90
MAX_TITLE: Final = 300

CATEGORY_COLORS: Final = {
    "load": "#1e9bb8",
    "execution": "#2e9d5a",
    "function": "#3b73b9",
    "host": "#b8478e",
    "memory": "#c9a227",
    "fuel": "#e0b31e",
    "log": "#777777",
    "error": "#d64545",
}
STEP_COLORS: Final = {
    "resolve": "#7fc6d6",
    "engine_import": "#1e9bb8",
    "engine_start": "#167a91",
    "module": "#0f5566",
}


class _Scale:
    """Maps microseconds to x: [0, split] on the left part, [split, end] on the right."""

    def __init__(self, split: int | None, end: int) -> None:
        self.split, self.end = split, max(end, 1)
        self.x0, self.x1 = LABEL_W, WIDTH - 10
        self.mid = self.x0 + (self.x1 - self.x0) * 0.3 if split is not None else None

    def x(self, us: int) -> float:
        if self.split is None or self.mid is None:
            return self.x0 + (self.x1 - self.x0) * min(us, self.end) / self.end
        if us <= self.split:
            return self.x0 + (self.mid - self.x0) * us / max(self.split, 1)
        rest = max(self.end - self.split, 1)
        return self.mid + (self.x1 - self.mid) * min(us - self.split, rest) / rest


def _bar(scale: _Scale, lane: int, start: int, end: int, color: str, title: str) -> str:
    x0, x1 = scale.x(start), scale.x(end)
    y = 20 + lane * LANE
    return (
        f'<rect class="mark" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1.5):.1f}" '
        f'height="{LANE - 6}" fill="{color}"><title>{esc(title)}</title></rect>'
    )


def _title(event: TraceEvent) -> str:
    text = f"+{format_duration(event.timestamp)} {event.event_type.value}: {event.message}"
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE] + "…"


def timeline_svg(trace: ExecutionTrace) -> str:
    events = trace.events
    end = max([trace.duration_us, 1, *(e.timestamp for e in events)])
    loads = [e for e in events if e.event_type in (T.LOAD_COMPLETE, T.LOAD_ERROR)]
    ran_on = loads and any(
        e.timestamp > loads[-1].timestamp and not e.event_type.is_error for e in events
    )
    split = loads[-1].timestamp if ran_on else None
    scale = _Scale(split, end)
    lanes = ["load", "instantiate", "process", "events"]
    height = 20 + LANE * len(lanes) + 24
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" role="img" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'aria-label="timeline of run {esc(trace.trace_id)}">'
    ]
    for lane, name in enumerate(lanes):
        y = 20 + lane * LANE
        parts.append(f'<text x="4" y="{y + 14}" {FONT}>{name}</text>')
        parts.append(
            f'<line x1="{LABEL_W}" x2="{WIDTH - 10}" y1="{y + LANE / 2}" '
            f'y2="{y + LANE / 2}" stroke="#eee"/>'
        )
    start = next((e.timestamp for e in events if e.event_type is T.LOAD_START), 0)
    previous = start
    for event in loads:
        step = str(event.metadata.get("step") or "load")
        color = (
            CATEGORY_COLORS["error"]
            if event.event_type is T.LOAD_ERROR
            else STEP_COLORS.get(step, CATEGORY_COLORS["load"])
        )
        parts.append(
            _bar(
                scale,
                0,
                previous,
                event.timestamp,
                color,
                f"{step}: {format_duration(event.timestamp - previous)}",
            )
        )
        previous = event.timestamp
    calls = {
        str(e.metadata.get("function")): e.timestamp
        for e in events
        if e.event_type is T.FUNCTION_CALL
    }
    finish = next(
        (
            e.timestamp
            for e in reversed(events)
            if e.event_type in (T.EXECUTION_COMPLETE, T.EXECUTION_ERROR)
        ),
        end,
    )
    failed = not trace.success
    if "instantiate" in calls and split is not None:
        parts.append(
            _bar(
                scale,
                1,
                split,
                calls["instantiate"],
                CATEGORY_COLORS["function"],
                f"instantiate: {format_duration(calls['instantiate'] - split)}",
            )
        )
    if "process" in calls:
        color = CATEGORY_COLORS["error"] if failed else CATEGORY_COLORS["execution"]
        parts.append(
            _bar(
                scale,
                2,
                calls["process"],
                finish,
                color,
                f"process: {format_duration(finish - calls['process'])}",
            )
        )
    y = 20 + 3 * LANE
    for event in events:
        x = scale.x(event.timestamp)
        color = CATEGORY_COLORS.get(event.event_type.category, "#777")
        parts.append(
            f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{y + 3}" y2="{y + LANE - 3}" '
            f'stroke="{color}" stroke-width="2"><title>{esc(_title(event))}</title></line>'
        )
    axis_y = 20 + LANE * len(lanes) + 14
    ticks = [(0, "0"), (end, format_duration(end))]
    if split is not None:
        ticks.insert(1, (split, f"module ready {format_duration(split)}"))
        parts.append(
            f'<line x1="{scale.x(split):.1f}" x2="{scale.x(split):.1f}" y1="16" '
            f'y2="{axis_y - 10}" stroke="#999" stroke-dasharray="3,3"/>'
        )
    for us, text in ticks:
        anchor = "start" if us == 0 else "end" if us == end else "middle"
        parts.append(
            f'<text x="{scale.x(us):.1f}" y="{axis_y}" text-anchor="{anchor}" '
            f'fill="#888" {FONT}>{esc(text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
