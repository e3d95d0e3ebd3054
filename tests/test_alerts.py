"""Alerts: TOML rules, `alerts check` (a CI gate), `alerts list`, `--exec`, and the
`alert:` line a run prints when an alert starts firing with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasmcli.store.alert_state import AlertStateStore, Episode
from wasmcli.store.db import open_database

from .conftest import REPO, SAMPLES, CliResult
from .insight_data import ago, failing, make_trace, store

Cli = Callable[..., CliResult]


def rules(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "alerts.toml"
    path.write_text(text, encoding="utf-8")
    return path


def check(cli: Cli, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = cli("alerts", "check", "--json", *args)
    assert result.exit_code in (0, 1), result
    data = result.json()
    assert isinstance(data, dict)
    assert data["firing"] == sum(a["firing"] for a in data["alerts"])
    return result.exit_code, {alert["name"]: alert for alert in data["alerts"]}


TRAPS = """
[[alert]]
name = "traps"
error_kind = "trap"
condition = "count >= 2 within 1h"
"""


def test_count_within_a_window(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    rules(wasmcli_home, TRAPS)
    old_trap = failing(started_at=ago(minutes=70))  # just outside the window
    store(
        wasmcli_home,
        [
            old_trap,
            failing("hello", "timeout", started_at=ago(minutes=30)),
            make_trace(started_at=ago(minutes=20)),
        ],
    )
    code, alerts = check(any_engine_cli)
    assert code == 0 and alerts["traps"]["firing"] is False  # one trap, and it is too old
    first = failing(started_at=ago(minutes=40))
    store(wasmcli_home, [first])
    code, alerts = check(any_engine_cli)
    assert code == 0 and alerts["traps"]["matching_runs"] == 1
    second = failing(started_at=ago(minutes=5))
    store(wasmcli_home, [second])
    code, alerts = check(any_engine_cli)
    assert code == 1
    traps = alerts["traps"]
    assert traps["firing"] is True
    assert traps["trace_ids"] == [second.trace_id, first.trace_id]  # newest first
    # The second trap made it fire (the one 70 min ago had left the window at -10 min).
    assert traps["since_trace_id"] == second.trace_id
    text = any_engine_cli("alerts", "check")
    assert text.exit_code == 1
    assert "FIRING traps" in text.stdout
    assert second.trace_id[:8] in text.stdout and first.trace_id[:8] in text.stdout


def test_a_firing_episode_starts_where_the_condition_last_broke(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    rules(wasmcli_home, TRAPS)
    # Two traps 5 h ago (an earlier episode), then a gap, then three within the hour:
    # the 20 min one keeps the episode begun at 50 min going.
    times = [
        ago(hours=5, minutes=5),
        ago(hours=5),
        ago(minutes=55),
        ago(minutes=50),
        ago(minutes=20),
    ]
    traps = store(wasmcli_home, [failing(started_at=t) for t in times])
    _, alerts = check(any_engine_cli)
    assert alerts["traps"]["since_trace_id"] == traps[3].trace_id


FAILING = """
[[alert]]
name = "failing"
binary = "hello"
condition = "failure_rate >= 50% over last 4 runs"
"""


def test_failure_rate_over_the_last_runs(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    rules(wasmcli_home, FAILING)
    store(
        wasmcli_home,
        [
            failing(started_at=ago(minutes=10)),
            make_trace(started_at=ago(minutes=9)),
            make_trace(started_at=ago(minutes=8)),
            make_trace(started_at=ago(minutes=7)),
            failing("other", started_at=ago(minutes=6)),
        ],
    )
    code, alerts = check(any_engine_cli)
    assert code == 0
    assert (alerts["failing"]["matching_runs"], alerts["failing"]["considered_runs"]) == (1, 4)
    assert alerts["failing"]["observed"] == 25.0
    newest = store(
        wasmcli_home, [failing(started_at=ago(minutes=5)), failing(started_at=ago(minutes=4))]
    )[1]
    code, alerts = check(any_engine_cli)
    assert code == 1
    assert alerts["failing"]["observed"] == 50.0  # 2 of the last 4 runs of hello
    assert alerts["failing"]["since_trace_id"] == newest.trace_id  # at -5 min it was 25%
    store(wasmcli_home, [make_trace(started_at=ago(minutes=m)) for m in (3, 2)])
    assert check(any_engine_cli)[0] == 1  # still 2 of the last 4
    store(wasmcli_home, [make_trace(started_at=ago(minutes=1))])
    assert check(any_engine_cli)[0] == 0


def test_a_rate_with_fewer_runs_than_its_window_uses_those_there_are(
    any_engine_cli: Cli, wasmcli_home: Path
) -> None:
    rules(wasmcli_home, FAILING)
    store(wasmcli_home, [failing(started_at=ago(minutes=1))])
    code, alerts = check(any_engine_cli)
    assert code == 1 and alerts["failing"]["considered_runs"] == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ('binary = "alpha"', {"a-trap", "a-plugin"}),
        ('error_kind = "timeout"', {"b-timeout"}),
        ('return_code = "error_parse_error"', {"a-plugin"}),
        ("return_code = -5", {"a-plugin"}),
        ('message = "div.*zero"', {"a-trap"}),
        ("min_fuel = 1000", {"b-hungry"}),
        ("min_duration_ms = 50", {"b-slow"}),
        ('binary = "beta"\nmin_fuel = 1000', {"b-hungry"}),
        ("", {"a-trap", "a-plugin", "b-timeout"}),  # no filter: the failed runs
    ],
)
def test_filters(any_engine_cli: Cli, wasmcli_home: Path, filters: str, expected: set[str]) -> None:
    rules(wasmcli_home, f'[[alert]]\nname = "x"\n{filters}\ncondition = "count >= 1 within 1d"\n')
    made = {
        "a-trap": failing("alpha", "trap", error_message="Plugin trapped: integer divide by zero"),
        "a-plugin": failing("alpha", "plugin_error", error_message="plugin returned -5"),
        "b-timeout": failing("beta", "timeout", error_message="Execution timeout"),
        "b-hungry": make_trace("beta", fuel=5_000),
        "b-slow": make_trace("beta", process_us=60_000),
    }
    store(wasmcli_home, made.values())
    _, alerts = check(any_engine_cli)
    found = {name for name, trace in made.items() if trace.trace_id in alerts["x"]["trace_ids"]}
    assert found == expected


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('[[alert]]\nname = "a"\ncondition = "count > 2 within 1h"\n', 3, "is not understood"),
        ('[[alert]]\nname = "a"\ncondition = "count >= 2 within 1y"\n', 3, "unknown unit 'y'"),
        (
            '[[alert]]\nname = "a"\n\n[[alert]]\nname = "b"\neror_kind = "trap"\n',
            6,
            "unknown key 'eror_kind'",
        ),
        ('[[alert]]\nerror_kind = "trap"\n', 1, "without a name"),
        ('[[alert]]\nname = "a"\n[[alert]]\nname = "a"\n', 3, "a second rule named 'a'"),
        ('[[alert]]\nname = "a"\nmessage = "(unclosed"\n', 3, "not a valid regular expression"),
        ('[[alert]]\nname = "a"\nerror_kind = "boom"\n', 3, "unknown error_kind 'boom'"),
        ('[[alert]]\nname = "a"\nreturn_code = "NOPE"\n', 3, "unknown return_code 'NOPE'"),
        ('[[alert]]\nname = "a"\nmin_fuel = -1\n', 3, "min_fuel must be 0 or more"),
        ('[[alert]]\nname = "a"\nmin_duration_ms = "5"\n', 3, "must be a number, not a string"),
        (
            '[[alert]]\nname = "a"\ncondition = "failure_rate >= 150% over last 5 runs"\n',
            3,
            "at most 100%",
        ),
        ('[alert]\nname = "a"\n', 1, "write each rule as [[alert]]"),
        ('[[alert]]\nname = "a"\nmin_fuel = \n', 3, "Invalid value"),
        ('[[alert]]\nname = "a"\n\nthreshold = 3\n', 4, "unknown key 'threshold'"),
        ('limit = 3\n[[alert]]\nname = "a"\n', 1, "unknown key 'limit'"),
    ],
)
def test_a_malformed_rules_file_is_a_usage_error_naming_the_line(
    any_engine_cli: Cli, wasmcli_home: Path, text: str, line: int, problem: str
) -> None:
    path = rules(wasmcli_home, text)
    for command in ("check", "list"):
        result = any_engine_cli("alerts", command)
        assert result.exit_code == 2, result
        assert result.stderr.startswith(f"error: {path}:{line}: "), result.stderr
        assert problem in result.stderr
        assert len(result.stderr.splitlines()) == 1


def test_no_rules_file(any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path) -> None:
    result = any_engine_cli("alerts", "check")
    assert result.exit_code == 2 and "no alert rules" in result.stderr
    listed = any_engine_cli("alerts", "list")
    assert listed.exit_code == 0 and "no alert rules" in listed.stderr
    missing = any_engine_cli("alerts", "check", "--rules", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2 and "no alert rules file" in missing.stderr


def test_rules_from_another_file_and_the_list(
    any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "ci-alerts.toml"
    path.write_text(TRAPS + FAILING, encoding="utf-8")
    store(wasmcli_home, [failing(started_at=ago(minutes=2)), failing(started_at=ago(minutes=1))])
    code, alerts = check(any_engine_cli, "--rules", str(path))
    assert code == 1 and set(alerts) == {"traps", "failing"}
    listed = any_engine_cli("alerts", "list", "--rules", str(path))
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("traps  firing since ")
    assert 'count >= 2 within 1h, counting error_kind = "trap"' in lines[1]
    assert "now: 2 matching runs within 1h" in lines[2]
    data = any_engine_cli("alerts", "list", "--rules", str(path), "--json").json()
    assert isinstance(data, dict)
    assert [a["firing"] for a in data["alerts"]] == [True, True]


def test_exec_runs_once_per_firing_episode(
    any_engine_cli: Cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    rules(wasmcli_home, TRAPS)
    log = tmp_path / "notified.jsonl"
    command = f"cat >> {log}; echo >> {log}; echo notified $WASMCLI_ALERT"
    store(wasmcli_home, [failing(started_at=ago(minutes=3)), failing(started_at=ago(minutes=2))])
    looked = check(any_engine_cli)[1]
    assert looked["traps"]["new"] is True  # a plain check does not use up the notification
    first = any_engine_cli("alerts", "check", "--exec", command)
    assert first.exit_code == 1
    assert "notified traps" in first.stderr  # the command's output goes to stderr
    sent = [json.loads(line) for line in log.read_text().splitlines() if line]
    assert len(sent) == 1
    assert sent[0]["name"] == "traps" and sent[0]["firing"] is True
    assert len(sent[0]["trace_ids"]) == 2
    assert any_engine_cli("alerts", "check", "--exec", command).exit_code == 1
    assert check(any_engine_cli)[1]["traps"]["new"] is False
    sent_again = [line for line in log.read_text().splitlines() if line]
    assert len(sent_again) == 1  # the same episode: not notified again
    failing_command = any_engine_cli("alerts", "check", "--exec", "exit 3")
    assert failing_command.exit_code == 1  # nothing new to notify: the command did not run


def test_a_new_episode_is_notified_again(any_engine_cli: Cli, wasmcli_home: Path) -> None:
    rules(wasmcli_home, TRAPS)
    store(
        wasmcli_home,
        [failing(started_at=ago(hours=3, minutes=1)), failing(started_at=ago(hours=3))],
    )
    from wasmcli.insight.alerts.check import check_alerts
    from wasmcli.insight.alerts.rules import load_rules
    from wasmcli.store.registry import Registry

    registry = Registry(wasmcli_home)
    rule_set = load_rules(wasmcli_home / "alerts.toml")
    # Evaluated three hours ago, the first episode was new, then not.
    from wasmcli.insight.alerts import evaluate

    past = ago(hours=2, minutes=59)
    original = evaluate.datetime

    class Clock(original):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return past

    evaluate.datetime = Clock  # type: ignore[misc]
    try:
        assert [s.new for s in check_alerts(registry, rule_set, notify=True)] == [True]
        assert [s.new for s in check_alerts(registry, rule_set, notify=True)] == [False]
    finally:
        evaluate.datetime = original  # type: ignore[misc]
    assert check_alerts(registry, rule_set)[0].firing is False  # now: those traps are old
    store(wasmcli_home, [failing(started_at=ago(minutes=2)), failing(started_at=ago(minutes=1))])
    assert [s.new for s in check_alerts(registry, rule_set, notify=True)] == [True]
    registry.close()


def test_concurrent_claims_announce_an_episode_once(wasmcli_home: Path) -> None:
    open_database(wasmcli_home).close()
    episode = Episode("traps", "hash", ago(seconds=0))
    claimed: list[int] = []

    def claim(index: int) -> None:
        conn = open_database(wasmcli_home)
        try:
            if AlertStateStore(conn).claim([episode], "announced"):
                claimed.append(index)
        finally:
            conn.close()

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 1


def test_run_prints_an_alert_line_when_an_alert_starts_firing(cli: Cli, wasmcli_home: Path) -> None:
    rules(wasmcli_home, TRAPS)
    trap = str(SAMPLES / "faulty" / "divide_by_zero.wasm")
    first = cli("run", trap, "-q")
    assert first.exit_code == 8
    assert "alert:" not in first.stderr
    second = cli("run", trap, "-q")
    assert second.exit_code == 8  # unchanged by the alert
    alert_lines = [line for line in second.stderr.splitlines() if line.startswith("alert:")]
    assert alert_lines == [
        "alert: traps started firing: 2 matching runs within 1h (count >= 2 within 1h);"
        f" newest run {alert_lines[0].rsplit(' ', 1)[-1]}"
    ]
    third = cli("run", trap, "-q")
    assert third.exit_code == 8
    assert "alert:" not in third.stderr  # still the same episode
    ok = cli("run", str(SAMPLES / "hello.wasm"), "-i", "x", "-q")
    assert ok.exit_code == 0 and "alert:" not in ok.stderr


def test_a_batch_announces_an_alert_once_for_all_its_runs(
    cli: Cli, wasmcli_home: Path, tmp_path: Path
) -> None:
    rules(wasmcli_home, TRAPS)
    trap = str(SAMPLES / "faulty" / "divide_by_zero.wasm")
    inputs = tmp_path / "inputs.txt"
    inputs.write_text("a\nb\nc\n", encoding="utf-8")
    batch = cli("run", trap, "--batch", str(inputs), "--batch-lines", "-q")
    assert batch.exit_code == 8  # the first failed input's, unchanged by the alert
    assert len(batch.stdout.splitlines()) == 3
    alert_lines = [line for line in batch.stderr.splitlines() if line.startswith("alert:")]
    assert len(alert_lines) == 1
    assert alert_lines[0].startswith("alert: traps started firing: 3 matching runs within 1h")
    again = cli("run", trap, "--batch", str(inputs), "--batch-lines", "-q")
    assert "alert:" not in again.stderr  # the same episode


def test_a_broken_rules_file_does_not_change_a_run(cli: Cli, wasmcli_home: Path) -> None:
    rules(wasmcli_home, '[[alert]]\nname = "a"\ncondition = "sometimes"\n')
    result = cli("run", str(SAMPLES / "hello.wasm"), "-i", "x", "-q")
    assert result.exit_code == 0
    assert result.stdout == "Hello, x!\n"
    assert "warning: alerts not evaluated: " in result.stderr
    assert "alerts.toml:3: condition 'sometimes' is not understood" in result.stderr


def test_run_imports_nothing_of_insight_without_a_rules_file(wasmcli_home: Path) -> None:
    def imported(*args: str) -> str:
        env = {**os.environ, "WASMCLI_HOME": str(wasmcli_home), "PYTHONPATH": str(REPO)}
        result = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "wasmcli",
                "run",
                str(SAMPLES / "hello.wasm"),
                "-i",
                "x",
                "-q",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stderr

    assert "wasmcli.insight" not in imported()
    rules(wasmcli_home, TRAPS)
    assert "wasmcli.insight.alerts" in imported()
