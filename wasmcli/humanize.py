"""Numbers, sizes, times and ids for people: the pure formatting every view shares
(terminal renderers in render/, the HTML dashboard in insight/).

Durations arrive as integer microseconds (the unit traces store), fuel as plain integers.
Every function is total: None and odd values come back as a readable placeholder, so a
view never has to special-case a trace that was cut short.
"""

from __future__ import annotations

from datetime import datetime, timezone

from wasmcli.return_codes import return_code_name

MISSING = "—"

_KIB = 1024


def format_duration(us: int | None) -> str:
    """A run length for people: '84 µs', '0.84 ms', '12.3 ms', '123 ms', '1.23 s', '2m05s'."""
    if us is None:
        return MISSING
    if us < 0:
        return "-" + format_duration(-us)
    if us < 100:
        return f"{us} µs"
    if us < 10_000:
        return f"{us / 1000:.2f} ms"
    if us < 100_000:
        return f"{us / 1000:.1f} ms"
    if us < 1_000_000:
        return f"{us / 1000:.0f} ms"
    if us < 10_000_000:
        return f"{us / 1_000_000:.2f} s"
    if us < 60_000_000:
        return f"{us / 1_000_000:.1f} s"
    minutes, seconds = divmod(round(us / 1_000_000), 60)
    return f"{minutes}m{seconds:02d}s"


def format_ms(us: int) -> str:
    """Milliseconds with microsecond precision and no unit, for aligned columns: '1,234.567'."""
    sign = "-" if us < 0 else ""
    whole, frac = divmod(abs(us), 1000)
    return f"{sign}{whole:,}.{frac:03d}"


def format_offset(us: int) -> str:
    """Time since the trace started: '+0.412 ms'."""
    return f"+{format_ms(us)} ms" if us >= 0 else f"{format_ms(us)} ms"


def format_delta(us: int) -> str:
    """Time since the previous event, unitless for a column: '+0.105'."""
    return f"+{format_ms(us)}" if us >= 0 else format_ms(us)


def format_bytes(count: int | None) -> str:
    """'512 B', '1.0 KiB', '1.5 MiB', '2.0 GiB'."""
    if count is None:
        return MISSING
    if abs(count) < _KIB:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= _KIB
        if abs(value) < _KIB or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def format_fuel(amount: int | None) -> str:
    """Fuel with thousands separators: '5,000,000,000'."""
    return MISSING if amount is None else f"{amount:,}"


def format_fuel_usage(consumed: int | None, limit: int | None, *, percent: bool = True) -> str:
    """'1,234 of 5,000,000,000 (0.00%)'; just the consumed amount when there was no limit."""
    if consumed is None:
        return MISSING if limit is None else f"{MISSING} of {limit:,}"
    if not limit:
        return f"{consumed:,}"
    text = f"{consumed:,} of {limit:,}"
    return f"{text} ({consumed / limit:.2%})" if percent else text


def format_return_code(code: int | None) -> str:
    """'0 SUCCESS', '-5 ERROR_PARSE_ERROR', 'unknown code 7', or a dash when none."""
    if code is None:
        return MISSING
    name = return_code_name(code) or ""
    return name if name.startswith("unknown code") else f"{code} {name}"


def format_local_time(moment: datetime, *, millis: bool = True) -> str:
    """Local wall-clock time with its zone: '2026-11-26 23:40:00.123 CET'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if millis:
        text += f".{local.microsecond // 1000:03d}"
    zone = local.strftime("%Z") or local.strftime("%z")
    return f"{text} {zone}" if zone else text


def short_id(identifier: str | None, length: int = 8) -> str:
    """The first characters of an id, as users type them for prefixes."""
    return MISSING if not identifier else identifier[:length]


def truncate(text: str, width: int, ellipsis: str = "…") -> str:
    """Cut text to at most `width` characters, marking the cut with an ellipsis."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(width - len(ellipsis), 0)] + ellipsis[:width]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 page', '3 pages'."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
