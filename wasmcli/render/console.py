"""The two consoles: stdout for data, stderr for diagnostics (docs/design.md section 8).

Colors follow the terminal; rich itself honours NO_COLOR. Plugin output and JSON never
go through these consoles (no markup, no wrapping): the CLI writes them to stdout raw.
"""

from __future__ import annotations

from functools import lru_cache

from rich.console import Console


@lru_cache(maxsize=1)
def data_console() -> Console:
    return Console(highlight=False, soft_wrap=False)


@lru_cache(maxsize=1)
def diag_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=False)


def reset_consoles() -> None:
    """Forget the cached consoles (tests swap stdout/stderr between invocations)."""
    data_console.cache_clear()
    diag_console.cache_clear()
