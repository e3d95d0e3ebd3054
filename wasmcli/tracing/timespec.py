"""Points in time as users type them: `--since 2h`, `--before 2026-11-26`.

An ISO time names a moment (naive times are local, like the times the CLI shows); a
duration such as `30m` means that long before now. The result is always aware UTC, the
zone traces are stored in.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Final

_UNITS: Final[dict[str, timedelta]] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_DURATION: Final = re.compile(r"(\d+)\s*([smhdw])(?:\s+ago)?", re.IGNORECASE)
_HINT: Final = "use an ISO time like 2026-11-26T22:40 or a duration like 30m, 2h, 7d"


def parse_time_spec(text: str, now: datetime | None = None) -> datetime:
    """An aware UTC datetime for an ISO time or a duration before `now`.

    Accepted: `2026-11-26T22:40:00Z`, `2026-11-26T22:40:00+01:00`, `2026-11-26 22:40`,
    `2026-11-26` (naive = local time), `now`, and `<n>s|m|h|d|w` (optionally followed by
    `ago`; `m` is minutes). `now` defaults to the current time; a naive `now` is local.
    Raises ValueError with a one-line message for anything else.
    """
    spec = text.strip()
    if spec.lower() == "now":
        return _reference(now)
    match = _DURATION.fullmatch(spec)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        try:
            return _reference(now) - amount * _UNITS[unit]
        except OverflowError:
            raise ValueError(f"invalid time {text!r}: {spec} is too far back") from None
    return _parse_iso(text, spec)


def _reference(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now.astimezone(timezone.utc)


def _parse_iso(text: str, spec: str) -> datetime:
    # Python 3.10's fromisoformat knows neither 'Z' nor a lowercase 't'.
    iso = spec
    if iso[-1:] in ("Z", "z"):
        iso = iso[:-1] + "+00:00"
    if len(iso) > 10 and iso[10] == "t":
        iso = iso[:10] + "T" + iso[11:]
    try:
        moment = datetime.fromisoformat(iso)
        # astimezone() reads a naive datetime as local time.
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ValueError(f"invalid time {text!r}: {_HINT}") from None


_LENGTH: Final = re.compile(r"(\d+)\s*([smhdw]?)", re.IGNORECASE)


def parse_duration(text: str) -> timedelta:
    """A length of time as users type it: `30s`, `10m`, `2h`, `7d`, `1w`, or seconds
    (`90`). Raises ValueError with a one-line message for anything else."""
    match = _LENGTH.fullmatch(text.strip())
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number with s, m, h, d or w, like 10m")
    amount, unit = int(match.group(1)), (match.group(2) or "s").lower()
    try:
        return amount * _UNITS[unit]
    except OverflowError:
        raise ValueError(f"invalid duration {text!r}: too long") from None
