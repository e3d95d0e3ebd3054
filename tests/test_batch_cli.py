"""`wasmcli run REF --batch FILE`: one JSON result per input, in input order, on both engines."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLES, CliResult, plugin_wat

HELLO = str(SAMPLES / "hello.wasm")

# Keeps state in a global and in memory, and reports both: a fresh instance per input
# prints "1 0" every time; a reused one would count up.
STATEFUL = plugin_wat(
    """
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (global.get $calls)))
    (i32.store8 (i32.const 101) (i32.const 32))
    (i32.store8 (i32.const 102) (i32.add (i32.const 48) (i32.load8_u (i32.const 200))))
    (i32.store8 (i32.const 200) (i32.const 7))
    (call $log (i32.const 100) (i32.const 3))
    (i32.const 0)
    """,
    extra="(global $calls (mut i32) (i32.const 0))",
)

# Does what its input says: "ok" logs it, "fail" returns 1 (plugin_error), "trap"
# traps, "loop" never ends; anything else is echoed.
BY_INPUT = plugin_wat(
    """
    (call $log (local.get $in) (local.get $in_len))
    (if (i32.eq (local.get $in_len) (i32.const 4))
      (then
        (if (i32.eq (i32.load (local.get $in)) (i32.const 0x6c696166)) ;; "fail"
          (then (return (i32.const 1))))
        (if (i32.eq (i32.load (local.get $in)) (i32.const 0x70617274)) ;; "trap"
          (then unreachable))
        (if (i32.eq (i32.load (local.get $in)) (i32.const 0x706f6f6c)) ;; "loop"
          (then (loop $forever (br $forever))))))
    (i32.const 0)
    """
)


def batch_file(tmp_path: Path, lines: list[Any], name: str = "batch.jsonl") -> str:
    path = tmp_path / name
    path.write_text(
        "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    )
    return str(path)


def results(done: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def summary_batch_id(done: CliResult) -> str:
    line = next(line for line in done.stderr.splitlines() if line.startswith("batch "))
    return line.split()[1].rstrip(":")


Cli = Callable[..., CliResult]


def test_results_come_in_input_order_with_ids_and_run_json_fields(
    cli: Cli, tmp_path: Path, engine: str
) -> None:
    lines = [{"id": f"n{i}", "input": f"w{i}"} for i in range(12)]
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, lines))
    assert done.exit_code == 0, done
    got = results(done)
    assert [r["index"] for r in got] == list(range(12))
    assert [r["id"] for r in got] == [f"n{i}" for i in range(12)]
    assert [r["output"] for r in got] == [f"Hello, w{i}!" for i in range(12)]
    single = cli("run", HELLO, "--input", "w0", "--json").json()
    assert isinstance(single, dict)
    assert set(got[0]) == set(single) | {"id", "index"}
    assert all(r["engine"] == engine and r["success"] and r["fuel_consumed"] > 0 for r in got)
    assert "12 inputs: 12 ok" in done.stderr


def test_every_input_gets_a_fresh_instance(cli: Cli, tmp_path: Path, wat_file: Any) -> None:
    plugin = wat_file(STATEFUL, "stateful")
    done = cli("run", str(plugin), "--batch", batch_file(tmp_path, [{}] * 5))
    assert [r["output"] for r in results(done)] == ["1 0"] * 5


def test_input_fields_reach_the_plugin(cli: Cli, tmp_path: Path, wat_file: Any) -> None:
    env_echo = wat_file(
        plugin_wat("(call $log (local.get $env) (local.get $env_len)) (i32.const 0)"), "env"
    )
    line = {"env": {"k": "v"}, "seed": 7, "timestamp": 42}
    done = cli("run", str(env_echo), "--batch", batch_file(tmp_path, [line, {}]), "--seed", "1")
    first, second = (json.loads(r["output"]) for r in results(done))
    assert first == {"timestamp": 42, "random_seed": 7, "k": "v"}
    assert second["random_seed"] == 1 and "k" not in second  # --seed is every line's default
    b64 = base64.b64encode("snow ☃".encode()).decode()
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, [{"input_b64": b64}], "b64.jsonl"))
    assert results(done)[0]["output"] == "Hello, snow ☃!"


def test_bad_lines_are_their_own_usage_errors_and_the_rest_runs(cli: Cli, tmp_path: Path) -> None:
    lines = [
        {"id": 1, "input": "a"},
        "this is not json",
        {"id": 3, "input": "b", "colour": "red"},
        {"id": 4, "input_b64": "***"},
        {"id": 5, "input": 5},
        {"id": 6, "env": {"timestamp": "1"}},
        "[1, 2]",
        {"id": 8, "input": "c"},
    ]
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, lines))
    got = results(done)
    assert [r["success"] for r in got] == [True, False, False, False, False, False, False, True]
    errors = [r["error"] for r in got if not r["success"]]
    assert all(e["kind"] == "usage" and e["stage"] == "input" for e in errors)
    messages = [e["message"] for e in errors]
    assert messages[0].startswith("line 2: not JSON")
    assert "unknown field 'colour'" in messages[1]
    assert "not valid base64" in messages[2]
    assert '"input" must be a string' in messages[3]
    assert "reserved" in messages[4]
    assert "expected a JSON object" in messages[5]
    assert [r["id"] for r in got] == [1, None, 3, 4, 5, 6, None, 8]
    assert all(r["trace_id"] is None for r in got if not r["success"])  # not runs
    assert done.exit_code == 2
    assert "2 ok, 6 usage" in done.stderr


def test_exit_code_is_the_first_failed_input_in_input_order(
    cli: Cli, tmp_path: Path, wat_file: Any
) -> None:
    plugin = str(wat_file(BY_INPUT, "by_input"))
    done = cli(
        "run",
        plugin,
        "--batch",
        batch_file(tmp_path, ["ok", "fail", "trap"], "a.txt"),
        "--batch-lines",
    )
    assert [r["error"] and r["error"]["kind"] for r in results(done)] == [
        None,
        "plugin_error",
        "trap",
    ]
    assert done.exit_code == 1
    done = cli(
        "run", plugin, "--batch", batch_file(tmp_path, ["trap", "fail"], "b.txt"), "--batch-lines"
    )
    assert done.exit_code == 8
    assert "first failure at index 0" in done.stderr
    ok = cli("run", plugin, "--batch", batch_file(tmp_path, ["x", "y"], "c.txt"), "--batch-lines")
    assert ok.exit_code == 0


def test_a_timeout_fails_its_input_only(cli: Cli, tmp_path: Path, wat_file: Any) -> None:
    plugin = str(wat_file(BY_INPUT, "by_input"))
    path = batch_file(tmp_path, ["a", "loop", "b", "loop", "c"], "t.txt")
    # Fuel far beyond what the time limit can burn: the default (timeout_ms x 1e6) runs
    # out first on a tight loop, and this test is about the clock. 1 s, so that the quick
    # inputs never reach it on a loaded machine.
    done = cli(
        "run",
        plugin,
        "--batch",
        path,
        "--batch-lines",
        "--timeout-ms",
        "1000",
        "--fuel",
        str(10**15),
    )
    got = results(done)
    assert [r["output"] for r in got] == ["a", "loop", "b", "loop", "c"], done.stderr
    assert [r["error"]["kind"] if r["error"] else None for r in got] == [
        None,
        "timeout",
        None,
        "timeout",
        None,
    ]
    assert done.exit_code == 5


def test_fail_fast_stops_at_the_first_failure(cli: Cli, tmp_path: Path, wat_file: Any) -> None:
    plugin = str(wat_file(BY_INPUT, "by_input"))
    path = batch_file(tmp_path, ["a", "b", "fail", "c", "trap"], "f.txt")
    done = cli("run", plugin, "--batch", path, "--batch-lines", "--fail-fast")
    assert [r["output"] for r in results(done)] == ["a", "b", "fail"]
    assert done.exit_code == 1
    assert "stopped at the first failure" in done.stderr


@pytest.mark.parametrize("fail_fast", [False, True])
def test_jobs_give_the_same_results_in_the_same_order(
    cli: Cli, tmp_path: Path, wat_file: Any, fail_fast: bool
) -> None:
    plugin = str(wat_file(BY_INPUT, "by_input"))
    inputs = [f"in{i}" for i in range(60)]
    inputs[37] = "fail"
    inputs[45] = "trap"
    path = batch_file(tmp_path, inputs, "j.txt")
    extra = ["--fail-fast"] if fail_fast else []
    one = cli("run", plugin, "--batch", path, "--batch-lines", *extra)
    two = cli("run", plugin, "--batch", path, "--batch-lines", "--jobs", "2", *extra)
    assert one.exit_code == two.exit_code == 1
    strip = ("trace_id", "duration_ms")
    first = [{k: v for k, v in r.items() if k not in strip} for r in results(one)]
    second = [{k: v for k, v in r.items() if k not in strip} for r in results(two)]
    assert second == first
    assert len(first) == (38 if fail_fast else 60)


def test_the_traces_share_the_batch_id(cli: Cli, tmp_path: Path, wat_file: Any) -> None:
    plugin = str(wat_file(BY_INPUT, "by_input"))
    path = batch_file(tmp_path, ["a", "fail", "b"], "t.txt")
    cli("run", plugin, "--input", "single")  # not part of the batch
    done = cli("run", plugin, "--batch", path, "--batch-lines")
    batch_id = summary_batch_id(done)
    listed = cli("traces", "list", "--batch", batch_id, "--json").json()
    assert isinstance(listed, list)
    assert sorted(t["trace_id"] for t in listed) == sorted(r["trace_id"] for r in results(done))
    assert {t["batch_id"] for t in listed} == {batch_id}
    failed = cli("traces", "list", "--batch", batch_id, "--failed", "--json").json()
    assert [t["error_kind"] for t in failed] == ["plugin_error"]  # type: ignore[index]
    assert cli("traces", "list", "--batch", "nope").stderr.strip() == "No traces match."


def test_retention_keeps_the_newest_and_results_never_cite_a_dropped_trace(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WASMCLI_MAX_TRACES", "3")
    lines = [{"input": str(i)} for i in range(40)]
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, lines))
    cited = [r["trace_id"] for r in results(done)]
    listed = cli("traces", "list", "--json").json()
    assert sorted(t["trace_id"] for t in listed) == sorted(cited[-3:])  # type: ignore[index]
    # Results go out in groups: a trace dropped in its own group is cited by none.
    dropped = cited.count(None)
    assert dropped > 0
    assert (
        f"retention dropped 37 of the batch's 40 traces (WASMCLI_MAX_TRACES keeps the newest"
        f" 3); {dropped} results have trace_id null" in done.stderr
    )


def test_traces_that_cannot_be_saved_are_cited_by_none(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wasmcli.store.traces import TraceStore

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TraceStore, "save_many", full_disk)
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, [{}, {}, {}]))
    assert done.exit_code == 0
    assert [r["trace_id"] for r in results(done)] == [None, None, None]
    assert [r["output"] for r in results(done)] == ["Hello, !"] * 3
    assert "warning: traces could not be saved: [Errno 28] No space left on device" in done.stderr


def test_batch_lines_and_stdin(cli: Cli) -> None:
    done = cli("run", HELLO, "--batch", "-", "--batch-lines", input=b"one\n\nthree\r\n")
    assert [r["output"] for r in results(done)] == ["Hello, one!", "Hello, !", "Hello, three!"]
    done = cli("run", HELLO, "--batch", "-", input=b'{"input": "x"}\n\n{"input": "y"}')
    assert [r["output"] for r in results(done)] == ["Hello, x!", "Hello, y!"]


def test_no_trace_runs_without_traces(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", HELLO, "--batch", batch_file(tmp_path, [{}, {}]), "--no-trace")
    assert [r["trace_id"] for r in results(done)] == [None, None]
    assert "not kept" not in done.stderr
    assert cli("traces", "list", "--json").json() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-lines"], "--batch-lines needs --batch FILE"),
        (["--jobs", "2"], "--jobs needs --batch FILE"),
        (["--fail-fast"], "--fail-fast needs --batch FILE"),
        (["--batch", "-", "--input", "x"], "drop --input"),
        (["--batch", "-", "--jobs", "0"], "--jobs must be between 1 and 64"),
        (["--batch", "-", "--trace"], "traces list --batch"),
    ],
)
def test_option_mistakes_are_usage_errors(
    any_engine_cli: Cli, args: list[str], message: str
) -> None:
    done = any_engine_cli("run", HELLO, *args, input=b"")
    assert done.exit_code == 2
    assert message in done.stderr
    assert done.stdout == ""


def test_a_missing_batch_file_or_plugin_is_one_line(any_engine_cli: Cli, tmp_path: Path) -> None:
    done = any_engine_cli("run", HELLO, "--batch", str(tmp_path / "nope.jsonl"))
    assert done.exit_code == 9
    assert done.stderr.startswith("error: Cannot read batch file") and done.stdout == ""
    done = any_engine_cli("run", "missing.wasm", "--batch", "-", input=b"{}\n")
    assert done.exit_code == 3 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_progress_bar_is_drawn_only_on_a_terminal(any_engine_cli: Cli, tmp_path: Path) -> None:
    from .terminal import run_in_terminal

    # 100 results fit the pipe buffer: the helper reads stdout once the run is over.
    path = batch_file(tmp_path, [{"input": str(i)} for i in range(100)])
    shown = run_in_terminal(
        "run",
        HELLO,
        "--batch",
        path,
        stdout_to_pipe=True,
        env={"WASMCLI_HOME": str(tmp_path / "home"), "WASMCLI_ENGINE": "wasmtime"},
    )
    assert shown.exit_code == 0
    assert [json.loads(line)["index"] for line in shown.stdout.splitlines()] == list(range(100))
    assert "100/100" in shown.text  # the bar, on stderr (the terminal)
    assert shown.lines[-1].startswith("batch ") and "100 inputs: 100 ok" in shown.lines[-1]
    piped = any_engine_cli("run", HELLO, "--batch", path)  # stderr is not a terminal
    assert piped.stderr.count("\n") == 1 and piped.stderr.startswith("batch ")
