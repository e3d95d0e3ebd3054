"""`--since` / `--before` times: ISO moments and durations before now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from tests.trace_samples import local_timezone
from wasmcli.tracing.timespec import parse_time_spec

UTC = timezone.utc
NOW = datetime(2026, 11, 26, 22, 40, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def eastern_time() -> Iterator[None]:
    # Local time is UTC-5 here, so naive inputs visibly move by five hours.
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to fix the local time zone")
    with local_timezone():
        yield


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T22:40:00Z", datetime(2026, 11, 26, 22, 40, tzinfo=UTC)),
        ("2026-11-26T22:40:00.123456Z", datetime(2026, 11, 26, 22, 40, 0, 123456, tzinfo=UTC)),
        ("2026-11-26t22:40z", datetime(2026, 11, 26, 22, 40, tzinfo=UTC)),
        ("2026-11-26T22:40:00+01:00", datetime(2026, 11, 26, 21, 40, tzinfo=UTC)),
        ("2026-11-26T22:40", datetime(2026, 11, 27, 3, 40, tzinfo=UTC)),  # naive = local
        ("2026-11-26 22:40", datetime(2026, 11, 27, 3, 40, tzinfo=UTC)),
        ("2026-11-26 22:40:05", datetime(2026, 11, 27, 3, 40, 5, tzinfo=UTC)),
        ("2026-11-26", datetime(2026, 11, 26, 5, 0, tzinfo=UTC)),  # local midnight
        ("  2026-11-26  ", datetime(2026, 11, 26, 5, 0, tzinfo=UTC)),
    ],
)
def test_iso_times(text: str, expected: datetime) -> None:
    parsed = parse_time_spec(text, now=NOW)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("30s", timedelta(seconds=30)),
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("0s", timedelta(0)),
        ("2H", timedelta(hours=2)),
        (" 2 h ", timedelta(hours=2)),
        ("2h ago", timedelta(hours=2)),
        ("now", timedelta(0)),
    ],
)
def test_durations_are_that_long_before_now(text: str, before: timedelta) -> None:
    parsed = parse_time_spec(text, now=NOW)
    assert parsed == NOW - before
    assert parsed.tzinfo is UTC


def test_now_in_another_zone_or_naive_is_converted() -> None:
    berlin = timezone(timedelta(hours=1))
    assert parse_time_spec("1h", now=datetime(2026, 11, 26, 23, 40, tzinfo=berlin)) == datetime(
        2026, 11, 26, 21, 40, tzinfo=UTC
    )
    # A naive `now` is local time (UTC-5 in these tests).
    assert parse_time_spec("1h", now=datetime(2026, 11, 26, 17, 40)) == datetime(
        2026, 11, 26, 21, 40, tzinfo=UTC
    )


def test_now_defaults_to_the_current_time() -> None:
    before = datetime.now(UTC) - timedelta(hours=2)
    parsed = parse_time_spec("2h")
    after = datetime.now(UTC) - timedelta(hours=2)
    assert before <= parsed <= after
    assert parsed.tzinfo is UTC


def test_the_error_message_says_what_is_accepted() -> None:
    with pytest.raises(ValueError) as info:
        parse_time_spec("3x")
    assert str(info.value) == (
        "invalid time '3x': use an ISO time like 2026-11-26T22:40 or a duration like 30m, 2h, 7d"
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "3x",
        "yesterday",
        "2h30m",
        "-2h",
        "2.5h",
        "h",
        "2026-13-01",
        "2026-11-31",
        "2026-11-26T25:00",
        "26/11/2026",
        "1 month",
    ],
)
def test_anything_else_is_one_clear_line(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_time_spec(text, now=NOW)
    message = str(info.value)
    assert message.startswith(f"invalid time {text!r}: ")
    assert "\n" not in message


def test_a_duration_beyond_the_calendar_is_an_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="too far back"):
        parse_time_spec("99999999999d", now=NOW)
    with pytest.raises(ValueError, match="too far back"):
        parse_time_spec("800000w", now=NOW)
