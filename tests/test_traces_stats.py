"""`wasmcli traces stats`: per-group counts and exact nearest-rank percentiles, checked
against a computation written here from the definition (not from wasmcli's code)."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from wasmcli.return_codes import return_code_name

from .conftest import CliResult
from .insight_data import ago, failing, make_trace, store
from .trace_samples import local_timezone

Cli = Callable[..., CliResult]


def nearest_rank(values: list[int], percent: int) -> int:
    """The smallest value such that at least `percent`% of the values are <= it."""
    ordered = sorted(values)
    for value in ordered:
        if Fraction(sum(v <= value for v in ordered), len(ordered)) >= Fraction(percent, 100):
            return value
    raise AssertionError("unreachable")


def expected_group(traces: list[Any]) -> dict[str, Any]:
    durations = [t.duration_us for t in traces]
    fuel = [t.fuel_consumed for t in traces if t.fuel_consumed is not None]
    failed = [t for t in traces if not t.success]
    codes = Counter(
        return_code_name(t.return_code) for t in failed if t.return_code not in (None, 0)
    )
    return {
        "runs": len(traces),
        "succeeded": len(traces) - len(failed),
        "failed": len(failed),
        "failures_by_error_kind": dict(Counter(t.error_kind for t in failed)),
        "failures_by_return_code": dict(codes),
        "duration_ms": {
            "p50": nearest_rank(durations, 50) / 1000,
            "p90": nearest_rank(durations, 90) / 1000,
            "p99": nearest_rank(durations, 99) / 1000,
            "max": max(durations) / 1000,
        },
        "fuel": {
            "runs": len(fuel),
            "p50": nearest_rank(fuel, 50) if fuel else None,
            "p90": nearest_rank(fuel, 90) if fuel else None,
            "max": max(fuel) if fuel else None,
        },
        "output_bytes_total": sum(t.output_bytes for t in traces),
    }


def random_traces(count: int, seed: int = 7) -> list[Any]:
    rng = random.Random(seed)
    traces = []
    for index in range(count):
        binary = rng.choice(["hello", "word_freq", "json_fields"])
        options: dict[str, Any] = {
            "started_at": ago(minutes=count - index),
            "process_us": int(rng.lognormvariate(7, 1.6)),
            "fuel": None if rng.random() < 0.1 else rng.randint(10, 10**8),
            "engine": rng.choice(["wasmtime", "wasmer"]),
        }
        roll = rng.random()
        if roll < 0.7:
            traces.append(make_trace(binary, output=("x" * rng.randint(0, 50),), **options))
        else:
            kind = rng.choice(["trap", "timeout", "plugin_error"])
            if kind == "plugin_error":
                options["return_code"] = rng.choice([-5, -2, 7])
            traces.append(failing(binary, kind, **options))
    return traces


def check_group(actual: dict[str, Any], traces: list[Any]) -> None:
    expected = expected_group(traces)
    assert actual["runs"] == expected["runs"]
    assert actual["succeeded"] == expected["succeeded"]
    assert actual["failed"] == expected["failed"]
    assert actual["success_rate"] == round(expected["succeeded"] / expected["runs"], 6)
    assert actual["failures_by_error_kind"] == expected["failures_by_error_kind"]
    assert actual["failures_by_return_code"] == expected["failures_by_return_code"]
    assert actual["duration_ms"] == expected["duration_ms"]
    assert actual["fuel"] == expected["fuel"]
    assert actual["output_bytes"]["total"] == expected["output_bytes_total"]


def test_percentiles_and_counts_per_binary_match_the_definition(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    traces = store(wasmcli_home, random_traces(300))
    result = any_engine_cli("traces", "stats", "--by", "binary", "--json")
    assert result.exit_code == 0, result
    report = result.json()
    assert isinstance(report, dict)
    assert report["percentile_method"] == "nearest-rank"
    check_group(report["total"], traces)
    by_name = defaultdict(list)
    for trace in traces:
        by_name[trace.binary_name].append(trace)
    assert {g["label"] for g in report["groups"]} == set(by_name)
    for group in report["groups"]:
        check_group(group, by_name[group["label"]])
    # Bigger groups first.
    runs = [g["runs"] for g in report["groups"]]
    assert runs == sorted(runs, reverse=True)
    # Each row's histogram counts every run of the group once.
    for group in report["groups"]:
        assert sum(group["duration_histogram"]) == group["runs"]


@pytest.mark.parametrize(
    ("by", "key"),
    [("engine", lambda t: t.engine), ("error_kind", lambda t: t.error_kind or "ok")],
)
def test_groups_by_engine_and_error_kind(
    any_engine_cli: Cli, wasmcli_home: Path, by: str, key: Callable[[Any], str]
) -> None:
    traces = store(wasmcli_home, random_traces(120, seed=3))
    report = any_engine_cli("traces", "stats", "--by", by, "--json").json()
    assert isinstance(report, dict)
    groups = defaultdict(list)
    for trace in traces:
        groups[key(trace)].append(trace)
    assert {g["key"] for g in report["groups"]} == set(groups)
    for group in report["groups"]:
        check_group(group, groups[group["key"]])


def test_groups_by_local_day_and_hour(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    from datetime import datetime, timezone

    with local_timezone():  # EST+5: 03:30 UTC is 22:30 the day before
        moments = [
            datetime(2026, 11, 26, 3, 30, tzinfo=timezone.utc),
            datetime(2026, 11, 26, 3, 50, tzinfo=timezone.utc),
            datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc),
        ]
        store(wasmcli_home, [make_trace(started_at=m) for m in moments])
        days = any_engine_cli("traces", "stats", "--by", "day", "--json").json()
        hours = any_engine_cli("traces", "stats", "--by", "hour", "--json").json()
    assert isinstance(days, dict) and isinstance(hours, dict)
    assert [(g["key"], g["runs"]) for g in days["groups"]] == [("2026-11-25", 2), ("2026-11-26", 1)]
    assert [(g["key"], g["runs"]) for g in hours["groups"]] == [
        ("2026-11-25 22:00", 2),
        ("2026-11-26 01:00", 1),
    ]


def test_filters_are_those_of_traces_list(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    traces = store(wasmcli_home, random_traces(80, seed=11))
    failed = any_engine_cli("traces", "stats", "--failed", "--json").json()
    assert isinstance(failed, dict)
    check_group(failed["total"], [t for t in traces if not t.success])
    newest = any_engine_cli("traces", "stats", "-n", "25", "--json").json()
    assert isinstance(newest, dict)
    check_group(newest["total"], traces[-25:])
    one = any_engine_cli("traces", "stats", "--binary", "hello", "--json").json()
    assert isinstance(one, dict)
    check_group(one["total"], [t for t in traces if t.binary_name == "hello"])
    since = traces[-29].started_at.isoformat()
    recent = any_engine_cli("traces", "stats", "--since", since, "--json").json()
    assert isinstance(recent, dict)
    check_group(recent["total"], traces[-29:])


def test_the_table_shows_each_group_with_its_percentiles(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    store(
        wasmcli_home,
        [make_trace("alpha", process_us=us) for us in (1_000, 2_000, 3_000, 40_000)]
        + [failing("beta", "timeout"), failing("beta", "plugin_error")],
    )
    result = any_engine_cli("traces", "stats", "--by", "binary")
    assert result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[0].startswith("6 runs")
    alpha = next(line for line in lines if line.startswith("alpha"))
    assert alpha.split()[1:3] == ["4", "100%"]
    # Each run lasts 1,240 us besides `process`: p50 is the second of the four.
    assert alpha.split()[3:5] == ["3.24", "ms"]
    assert alpha.split()[9:11] == ["41.2", "ms"]  # max
    assert any(line.startswith("all runs") for line in lines)
    beta_failures = [line for line in lines if line.startswith("beta") and "timeout 1" in line]
    assert beta_failures and "ERROR_PARSE_ERROR 1" in beta_failures[0]
    assert "nearest rank" in result.stdout


def test_no_traces_and_bad_options(any_engine_cli: Cli) -> None:
    empty = any_engine_cli("traces", "stats")
    assert empty.exit_code == 0 and "No traces yet." in empty.stderr
    report = any_engine_cli("traces", "stats", "--json").json()
    assert isinstance(report, dict) and report["total"]["runs"] == 0
    bad = any_engine_cli("traces", "stats", "--by", "week")
    assert bad.exit_code == 2
    assert "unknown --by 'week'" in bad.stderr
