"""The one table style every listing uses: lowercase bold headers over a rule, no
frame, two spaces between columns. Timelines, `traces list`, `list`, `inspect` and
`codes` all look alike."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles


def table_settings(**options: Any) -> dict[str, Any]:
    """The keyword arguments of a rich Table in wasmcli's style, with `options` on top."""
    settings: dict[str, Any] = {
        "box": box.SIMPLE_HEAD,
        "show_edge": False,
        "pad_edge": False,
        "padding": (0, 1),
        "collapse_padding": True,
        "header_style": styles.HEADER_STYLE,
        "title_justify": "left",
    }
    settings.update(options)
    return settings


def new_table(title: str | None = None, **options: Any) -> Table:
    """A rich Table in wasmcli's style; `options` go to Table (columns are added after)."""
    if title is not None:
        options["title"] = Text(title, style=styles.TITLE_STYLE)
    return Table(**table_settings(**options))
