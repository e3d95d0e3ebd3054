"""The colors of wasmcli's output, in one place.

Styles are rich style strings. Every event type has a category (load, execution,
function, host, memory, fuel, log, error) and each category one style, so a timeline,
a listing and a summary color the same thing the same way. Colors are dropped by rich
itself when the terminal has none or NO_COLOR is set.
"""

from __future__ import annotations

from typing import Final

from wasmcli.tracing.events import TraceEventType

CATEGORY_STYLES: Final[dict[str, str]] = {
    "load": "cyan",
    "execution": "bold green",
    "function": "blue",
    "host": "magenta",
    "memory": "yellow",
    "fuel": "bright_yellow",
    "log": "default",
    "error": "bold red",
}

OK_STYLE: Final = "green"
FAIL_STYLE: Final = "bold red"
LABEL_STYLE: Final = "dim"
DETAIL_STYLE: Final = "dim"
NOTE_STYLE: Final = "dim italic"
ID_STYLE: Final = "cyan"
HEADER_STYLE: Final = "bold"
TITLE_STYLE: Final = "bold"
BAR_TRACK_STYLE: Final = "dim"


def category_style(category: str) -> str:
    return CATEGORY_STYLES.get(category, "default")


def event_style(event_type: TraceEventType) -> str:
    """The style an event type is drawn in, by its category."""
    return category_style(event_type.category)


def status_style(success: bool) -> str:
    return OK_STYLE if success else FAIL_STYLE
