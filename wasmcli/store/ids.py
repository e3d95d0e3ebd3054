"""Id prefixes: one rule for binaries and traces.

Ids are lowercase UUIDs. A reference may be a whole id or a prefix of at least
`MIN_ID_PREFIX` characters (git's minimum: shorter ones match too much to be safe in a
script). A prefix that matches several ids is a usage error that lists them.
"""

from __future__ import annotations

import re

MIN_ID_PREFIX = 4
MAX_CANDIDATES_SHOWN = 5
_ID_TEXT = re.compile(r"^[0-9a-f-]+$")


def is_id_text(ref: str) -> bool:
    """Whether `ref` could be (a prefix of) an id: hex digits and dashes."""
    return bool(_ID_TEXT.match(ref.lower()))


def prefix_range(prefix: str) -> tuple[str, str]:
    """Bounds for `id >= lo AND id < hi`: an indexed range, unlike LIKE.

    Every character of an id sorts below "~", so the ids starting with `prefix` are
    exactly those in [prefix, prefix + "~").
    """
    prefix = prefix.lower()
    return prefix, prefix + "~"


def too_short_hint(ref: str) -> str:
    """A hint for a reference that looks like a prefix but is shorter than the minimum."""
    if is_id_text(ref) and len(ref) < MIN_ID_PREFIX:
        return f" (an id prefix needs at least {MIN_ID_PREFIX} characters)"
    return ""


def candidates_text(labels: list[str], total: int) -> str:
    """'a, b and c' from the first candidates, with how many more there are."""
    shown = labels[:MAX_CANDIDATES_SHOWN]
    more = total - len(shown)
    text = ", ".join(shown)
    return f"{text} and {more} more" if more > 0 else text
