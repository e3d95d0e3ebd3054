"""`wasmcli traces diff OLD NEW`: what changed between two runs, diff(1) exit codes, and
the CI gates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wasmcli.insight.diff import trace_diff
from wasmcli.tracing.events import ExecutionTrace

from .conftest import SAMPLES, CliResult
from .insight_data import ago, failing, make_trace, store

Cli = Callable[..., CliResult]


def diff(cli: Cli, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("traces", "diff", *args, "--json")
    data = result.json() if result.stdout else {}
    assert isinstance(data, dict)
    return result.exit_code, data


def test_equal_runs_exit_0_even_when_their_durations_differ(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    store(
        wasmcli_home,
        [
            make_trace(process_us=300, started_at=ago(minutes=2)),
            make_trace(process_us=900, started_at=ago(minutes=1)),
        ],
    )
    code, data = diff(any_engine_cli, "last~1", "last")
    assert code == 0
    assert data["equal"] is True and data["differences"] == []
    assert data["duration_us"]["process"]["delta"] == 600
    assert data["duration_us"]["process"]["percent"] == 200.0
    text = any_engine_cli("traces", "diff", "last~1", "last")
    assert text.exit_code == 0
    assert "equal: same outcome, output and fuel" in text.stdout


@pytest.mark.parametrize(
    ("new", "difference"),
    [
        (make_trace(output=("Hello, there!",)), "output"),
        (make_trace(fuel=52), "fuel"),
        (failing(kind="trap"), "outcome"),
        (make_trace(return_code=0, output=("Hello, world!", "again")), "output"),
    ],
)
def test_runs_that_differ_in_outcome_output_or_fuel_exit_1(
    any_engine_cli: Cli, wasmcli_home: Path, new: ExecutionTrace, difference: str
) -> None:
    old = make_trace(started_at=ago(minutes=5))
    store(wasmcli_home, [old, new])
    code, data = diff(any_engine_cli, old.trace_id[:8], new.trace_id)
    assert code == 1
    assert difference in data["differences"]


def test_output_and_event_flow_as_unified_diffs(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    old = make_trace(output=("alpha", "beta", "gamma"), started_at=ago(minutes=3))
    new = make_trace(output=("alpha", "BETA", "gamma"), started_at=ago(minutes=1))
    store(wasmcli_home, [old, new])
    code, data = diff(any_engine_cli, "last~1", "last")
    assert code == 1
    unified = data["output"]["unified"]
    assert unified[:2] == [f"--- old {old.trace_id[:8]}", f"+++ new {new.trace_id[:8]}"]
    assert "-beta" in unified and "+BETA" in unified and " alpha" in unified
    text = any_engine_cli("traces", "diff", "last~1", "last").stdout
    assert "-beta" in text and "+BETA" in text


def test_events_added_and_removed_by_type(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    old = make_trace(output=("a", "b", "c"), started_at=ago(minutes=3))
    new = failing(error_message="Plugin trapped: unreachable", started_at=ago(minutes=1))
    store(wasmcli_home, [old, new])
    code, data = diff(any_engine_cli, "last~1", "last")
    assert code == 1
    counts = data["events_by_type"]
    assert counts["PluginLog"] == {"old": 3, "new": 0, "delta": -3, "percent": -100.0}
    assert counts["ExecutionError"]["delta"] == 1
    assert counts["ExecutionComplete"]["delta"] == -1
    assert "+ExecutionError: Plugin trapped: unreachable" in data["events"]["unified"]
    assert data["outcome"]["new"]["error_kind"] == "trap"
    text = any_engine_cli("traces", "diff", "last~1", "last").stdout
    assert "ExecutionError" in text and "failed (trap)" in text


def test_stage_durations_come_from_the_events(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    old = make_trace(load_us=4_000, instantiate_us=100, process_us=1_000, started_at=ago(minutes=2))
    new = make_trace(load_us=1_000, instantiate_us=300, process_us=1_500, started_at=ago(minutes=1))
    store(wasmcli_home, [old, new])
    _, data = diff(any_engine_cli, "last~1", "last")
    stages = data["duration_us"]
    assert (stages["load"]["old"], stages["load"]["new"]) == (4_000, 1_000)
    assert (stages["instantiate"]["old"], stages["instantiate"]["new"]) == (100, 300)
    assert (stages["process"]["old"], stages["process"]["new"]) == (1_000, 1_500)
    # plugin time: instantiation, placing the input (10 us here) and process.
    assert (stages["plugin"]["old"], stages["plugin"]["new"]) == (1_110, 1_810)
    assert set(data["load_steps_us"]) == {"resolve", "module"}
    assert data["load_steps_us"]["resolve"] == {
        "old": 1000,
        "new": 250,
        "delta": -750,
        "percent": -75.0,
    }


@pytest.mark.parametrize(
    ("new_fuel", "limit", "expected"),
    [(104, "5", 0), (110, "10", 0), (111, "10", 1), (90, "0", 0)],
)
def test_fuel_gate(
    any_engine_cli: Cli, wasmcli_home: Path, new_fuel: int, limit: str, expected: int
) -> None:
    store(
        wasmcli_home,
        [
            make_trace(fuel=100, started_at=ago(minutes=2)),
            make_trace(fuel=new_fuel, output=("other",), started_at=ago(minutes=1)),
        ],
    )
    code, data = diff(any_engine_cli, "last~1", "last", "--max-fuel-increase", limit)
    assert code == expected  # the outputs differ: without the gate this would be 1
    assert data["gates"][0]["exceeded"] is bool(expected)
    assert data["gates"][0]["percent"] == new_fuel - 100


def test_duration_gate_compares_the_plugin_time(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    # Loading got much slower (a cold cache), the plugin itself 20% slower.
    old = make_trace(load_us=1_000, instantiate_us=490, process_us=500, started_at=ago(minutes=2))
    new = make_trace(load_us=90_000, instantiate_us=590, process_us=600, started_at=ago(minutes=1))
    store(wasmcli_home, [old, new])
    assert diff(any_engine_cli, "last~1", "last", "--max-duration-increase", "25")[0] == 0
    code, data = diff(any_engine_cli, "last~1", "last", "--max-duration-increase", "15")
    assert code == 1
    assert data["gates"][0]["measure"] == "plugin time"
    assert data["gates"][0]["percent"] == 20.0
    both = any_engine_cli(
        "traces",
        "diff",
        "last~1",
        "last",
        "--max-duration-increase",
        "15",
        "--max-fuel-increase",
        "50",
    )
    assert both.exit_code == 1
    assert "--max-duration-increase 15: exceeded" in both.stdout
    assert "--max-fuel-increase 50: passed" in both.stdout


def test_a_gate_on_unknown_fuel_fails(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    store(
        wasmcli_home,
        [
            make_trace(fuel=100, started_at=ago(minutes=2)),
            failing(fuel=None, started_at=ago(minutes=1)),
        ],
    )
    code, data = diff(any_engine_cli, "last~1", "last", "--max-fuel-increase", "1000")
    assert code == 1
    assert data["gates"][0]["reason"] == "fuel unknown in the new run"


def test_cut_output_is_compared_as_far_as_kept_and_says_so(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    old = make_trace(output=("same",), output_cut=5_000, started_at=ago(minutes=2))
    new = make_trace(output=("same",), output_cut=7_000, started_at=ago(minutes=1))
    store(wasmcli_home, [old, new])
    code, data = diff(any_engine_cli, "last~1", "last")
    assert code == 1  # the kept text is equal but the outputs' sizes are not
    assert data["output"]["compared_cut_text"] is True
    assert data["output"]["new"]["cut_bytes"] == 7_000
    text = any_engine_cli("traces", "diff", "last~1", "last").stdout
    assert "compared cut text" in text


def test_references_last_n_and_binary_last(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    a1 = make_trace("alpha", fuel=1, started_at=ago(minutes=5))
    b1 = make_trace("beta", fuel=2, started_at=ago(minutes=4))
    a2 = make_trace("alpha", fuel=3, started_at=ago(minutes=3))
    b2 = make_trace("beta", fuel=4, started_at=ago(minutes=2))
    store(wasmcli_home, [a1, b1, a2, b2])
    _, data = diff(any_engine_cli, "alpha:last~1", "alpha:last")
    assert (data["old"]["trace_id"], data["new"]["trace_id"]) == (a1.trace_id, a2.trace_id)
    _, data = diff(any_engine_cli, "last~3", "LAST")
    assert (data["old"]["trace_id"], data["new"]["trace_id"]) == (a1.trace_id, b2.trace_id)
    _, data = diff(any_engine_cli, "beta:last", a1.trace_id[:10])
    assert (data["old"]["trace_id"], data["new"]["trace_id"]) == (b2.trace_id, a1.trace_id)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("last~4", "last"), "no trace 'last~4': there are 4 runs stored"),
        (("alpha:last~2", "last"), "there is 1 run of alpha"),
        (("nosuch:last", "last"), "no runs of nosuch"),
        (("alpha:first", "last"), "after 'BINARY:' write last or last~N"),
        (("ffffffff", "last"), "No trace matches 'ffffffff'"),
        (("last", "last", "--max-fuel-increase", "-1"), "must be a percentage of 0 or more"),
    ],
)
def test_usage_errors_exit_2(
    any_engine_cli: Cli, wasmcli_home: Path, args: tuple[str, ...], message: str
) -> None:
    store(
        wasmcli_home,
        [make_trace("alpha", started_at=ago(minutes=4))]
        + [make_trace("beta", started_at=ago(minutes=m)) for m in (3, 2, 1)],
    )
    result = any_engine_cli("traces", "diff", *args)
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert result.stdout == ""


@dataclass(frozen=True)
class ProfiledTrace(ExecutionTrace):
    profile: dict[str, Any] | None = None


def test_per_function_fuel_when_both_runs_carry_a_profile() -> None:
    def profiled(functions: dict[str, int]) -> ProfiledTrace:
        base = make_trace(fuel=sum(functions.values()))
        fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
        profile = {"functions": [{"name": n, "self_fuel": f} for n, f in functions.items()]}
        return ProfiledTrace(**fields, profile=profile)

    result = trace_diff(
        profiled({"main": 100, "parse": 50}), profiled({"main": 100, "parse": 80, "emit": 5})
    )
    assert result.functions is not None
    changes = {f.name: (f.fuel.old, f.fuel.new, f.fuel.delta) for f in result.functions}
    assert changes == {"parse": (50, 80, 30), "emit": (0, 5, 5), "main": (100, 100, 0)}
    assert [f.name for f in result.functions][0] == "parse"  # the biggest change first
    assert trace_diff(make_trace(), make_trace()).functions is None


def test_two_real_runs(cli: Cli) -> None:
    hello = str(SAMPLES / "hello.wasm")
    assert cli("run", hello, "--input", "world", "-q").exit_code == 0
    assert cli("run", hello, "--input", "there", "-q").exit_code == 0
    code, data = diff(cli, "hello:last~1", "hello:last")
    assert code == 1
    assert data["differences"] == ["output"]
    assert "-Hello, world!" in data["output"]["unified"]
    assert "+Hello, there!" in data["output"]["unified"]
    assert data["fuel"]["delta"] == 0
    for stage in ("load", "instantiate", "process", "plugin"):
        assert data["duration_us"][stage]["old"] > 0
    assert set(data["load_steps_us"]) == {"resolve", "engine_import", "engine_start", "module"}
