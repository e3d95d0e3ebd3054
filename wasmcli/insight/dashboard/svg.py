"""Charts as inline SVG, drawn on the server: no script and no network, a few hundred
bytes per chart. Every mark has a <title>, which browsers show on hover.

Functions return SVG text; `esc` escapes everything that goes into it (plugin text
included: binary names, messages).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from wasmcli.safe_text import one_line

OUTCOME_COLORS: Final = {
    "ok": "#2e9d5a",
    "trap": "#d64545",
    "timeout": "#e08a1e",
    "out_of_fuel": "#c9a227",
    "plugin_error": "#8e5bd6",
    "memory_limit": "#1e88b8",
    "abi": "#b8478e",
    "load": "#6b7a8f",
    "io": "#4a8f7f",
    "interrupted": "#9a9a9a",
    "terminated": "#777777",
    "internal": "#222222",
}
FALLBACK_COLOR: Final = "#a0522d"
BAR_COLOR: Final = "#3b73b9"
FUEL_COLOR: Final = "#c9a227"
AXIS_COLOR: Final = "#888"
FONT: Final = 'font-family="system-ui, sans-serif" font-size="11"'


def esc(text: object) -> str:
    """Text made safe for HTML and SVG: markup escaped, control and bidi characters shown
    as visible escapes (a plugin chooses its names and messages)."""
    return html.escape(one_line(str(text)), quote=True)


def outcome_color(outcome: str) -> str:
    return OUTCOME_COLORS.get(outcome, FALLBACK_COLOR)


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-label="{esc(label)}">'
    )


def _nice_max(value: int) -> int:
    """A round axis maximum at or above `value`: 1, 2, 5, 10, 20, 50, ..."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if magnitude * factor >= value:
                return magnitude * factor
        magnitude *= 10


@dataclass(frozen=True)
class StackedBar:
    label: str  # shown under the bar (may be empty) and in the titles
    counts: dict[str, int]


def stacked_bars(
    bars: Sequence[StackedBar],
    series: Sequence[str],
    label: str,
    width: int = 900,
    height: int = 220,
) -> str:
    """Vertical bars, each stacked by series (bottom first), with a y axis and a legend."""
    left, right, top, bottom = 40, 10, 10, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((sum(bar.counts.values()) for bar in bars), default=0))
    parts = [_open(width, height, label)]
    for tick in (0, peak // 2, peak):
        y = top + plot_h - plot_h * tick / peak
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="{AXIS_COLOR}" {FONT}>{tick:,}</text>'
        )
    slot = plot_w / max(len(bars), 1)
    bar_w = max(slot * 0.8, 1)
    every = max(1, round(len(bars) / 8))  # at most about eight labels under the bars
    for index, bar in enumerate(bars):
        x = left + index * slot + (slot - bar_w) / 2
        y = top + plot_h
        for name in series:
            count = bar.counts.get(name, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{outcome_color(name)}"><title>{esc(bar.label)}: '
                f"{count:,} {esc(name)}</title></rect>"
            )
        if bar.label and index % every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'fill="{AXIS_COLOR}" {FONT}>{esc(bar.label)}</text>'
            )
    x = left
    for name in series:
        parts.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10" '
            f'fill="{outcome_color(name)}"/><text x="{x + 14}" y="{height - 5}" {FONT}>'
            f"{esc(name)}</text>"
        )
        x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def histogram(
    counts: Sequence[int],
    edges: Sequence[int],
    label: str,
    format_edge: Callable[[int], str],
    color: str = BAR_COLOR,
    width: int = 260,
    height: int = 90,
) -> str:
    """A small histogram over shared bins, labelled at both ends."""
    left, bottom = 4, 16
    plot_w, plot_h = width - 2 * left, height - bottom - 4
    peak = max(counts, default=0) or 1
    slot = plot_w / max(len(counts), 1)
    parts = [_open(width, height, label)]
    parts.append(
        f'<line x1="{left}" x2="{width - left}" y1="{4 + plot_h}" y2="{4 + plot_h}" '
        f'stroke="{AXIS_COLOR}"/>'
    )
    for index, count in enumerate(counts):
        if not count:
            continue
        h = max(plot_h * count / peak, 1)
        low, high = edges[index], edges[index + 1]
        parts.append(
            f'<rect class="mark" x="{left + index * slot + 1:.1f}" y="{4 + plot_h - h:.1f}" '
            f'width="{max(slot - 2, 1):.1f}" height="{h:.1f}" fill="{color}"><title>'
            f"{esc(format_edge(low))} – {esc(format_edge(high))}: {count:,} runs</title></rect>"
        )
    if edges:
        parts.append(
            f'<text x="{left}" y="{height - 3}" fill="{AXIS_COLOR}" {FONT}>'
            f"{esc(format_edge(edges[0]))}</text>"
            f'<text x="{width - left}" y="{height - 3}" text-anchor="end" fill="{AXIS_COLOR}" '
            f"{FONT}>{esc(format_edge(edges[-1]))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(items: Sequence[tuple[str, int, str]], label: str, width: int = 420) -> str:
    """One labelled bar per (name, count, color), longest first as given."""
    row, name_w = 20, 170
    height = row * max(len(items), 1) + 4
    peak = max((count for _, count, _ in items), default=0) or 1
    parts = [_open(width, height, label)]
    for index, (name, count, color) in enumerate(items):
        y = 2 + index * row
        w = max((width - name_w - 60) * count / peak, 1)
        parts.append(
            f'<text x="{name_w - 6}" y="{y + 13}" text-anchor="end" {FONT}>{esc(name)}</text>'
            f'<rect class="mark" x="{name_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{color}"><title>{esc(name)}: {count:,}</title></rect>'
            f'<text x="{name_w + w + 4:.1f}" y="{y + 13}" {FONT}>{count:,}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
