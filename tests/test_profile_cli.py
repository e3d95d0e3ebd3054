"""Profiles through the rest of the CLI, on every engine: batches, the Chrome export's
flame chart, differential and icicle flamegraphs, and `traces show --profile`."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLES, CliResult, plugin_wat
from .test_profile import RECURSION, SAMPLE_INPUTS, last_profile, parse_folded, run, stack_sum

SVG = "{http://www.w3.org/2000/svg}"

# Input "trap" traps in $boom, "loop" never ends in $forever; otherwise $work calls $step
# once per input byte.
BY_INPUT = plugin_wat(
    """
    (if (i32.eq (local.get $in_len) (i32.const 4))
      (then
        (if (i32.eq (i32.load (local.get $in)) (i32.const 0x70617274)) ;; "trap"
          (then (call $boom)))
        (if (i32.eq (i32.load (local.get $in)) (i32.const 0x706f6f6c)) ;; "loop"
          (then (call $forever)))))
    (call $work (local.get $in_len))
    (i32.const 0)
    """,
    extra="""(func $boom unreachable)
  (func $forever (loop $l (br $l)))
  (func $step (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $work (param $n i32) (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (call $step (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))""",
)

# $left loops as many times as the input is long, $right 100 less that many: a longer
# input moves fuel from $right to $left.
LEFT_RIGHT = plugin_wat(
    """
    (call $spin (local.get $in_len)) (call $left_right (local.get $in_len)) (i32.const 0)
    """,
    extra="""(func $spin (param $n i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l))))
  (func $left_right (param $n i32) (call $left (local.get $n))
    (call $right (i32.sub (i32.const 100) (local.get $n))))
  (func $left (param $n i32) (call $spin (local.get $n)))
  (func $right (param $n i32) (call $spin (local.get $n)))""",
)


def batch_results(done: CliResult) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def profile_of(cli: Callable[..., CliResult], trace_id: str) -> dict[str, Any]:
    done = cli("traces", "profile", trace_id, "--json")
    assert done.exit_code == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


# -- run --batch --profile ----------------------------------------------------------------


def test_every_input_of_a_batch_keeps_its_own_profile(cli, wat_file, tmp_path: Path) -> None:
    # On wasmer the batch's child is killed at the timeout and a new one runs the rest.
    lines = [{"id": "short", "input": "ab"}, {"id": "loop", "input": "loop"}]
    lines += [{"id": "long", "input": "x" * 40}, {"id": "trap", "input": "trap"}]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = cli(
        "run", str(wat_file(BY_INPUT)), "--batch", str(batch), "--profile",
        "--fuel", str(10**15), "--timeout-ms", "300",
    )  # fmt: skip
    results = {r["id"]: r for r in batch_results(done)}
    assert {k: r["error"] and r["error"]["kind"] for k, r in results.items()} == {
        "short": None,
        "loop": "timeout",
        "long": None,
        "trap": "trap",
    }
    calls, faults = {}, {}
    for key, result in results.items():
        profile = profile_of(cli, result["trace_id"])
        assert profile["outcome"] == (result["error"] or {}).get("kind", "completed"), key
        if result["fuel_consumed"] is not None:  # exact where the fuel is known
            assert stack_sum(profile) == result["fuel_consumed"] > 0, key
        calls[key] = {row["name"]: row["calls"] for row in profile["functions"]}
        fault = profile["fault_node"]
        faults[key] = fault and profile["names"][str(profile["nodes"][fault][1])]
    # Each input's own profile: $step ran once per byte of that input.
    assert (calls["short"]["step"], calls["long"]["step"]) == (2, 40)
    assert "step" not in calls["loop"]
    assert faults == {
        "short": None,
        "loop": "forever",
        "long": None,
        "trap": "boom",
    }


# -- traces export --format chrome: the flame chart under `process` ------------------------


def _chrome(cli: Callable[..., CliResult]) -> list[dict[str, Any]]:
    done = cli("traces", "export", "--format", "chrome", "-n", "1")
    assert done.exit_code == 0, done.stderr
    events: list[dict[str, Any]] = json.loads(done.stdout)["traceEvents"]
    return events


def _nest(events: list[dict[str, Any]]) -> dict[int, int | None]:
    """Each complete slice's parent, as Perfetto nests slices of one thread: by start,
    the longer first, then as written; a slice is inside the last open one it fits in."""
    slices = [i for i, e in enumerate(events) if e["ph"] == "X"]
    slices.sort(key=lambda i: (events[i]["ts"], -events[i]["dur"], i))
    parents: dict[int, int | None] = {}
    open_: list[int] = []
    for i in slices:
        begin, end = events[i]["ts"], events[i]["ts"] + events[i]["dur"]
        while open_ and events[open_[-1]]["ts"] + events[open_[-1]]["dur"] < end:
            open_.pop()
        parent = open_[-1] if open_ else None
        if parent is not None:
            assert events[parent]["ts"] <= begin, "a slice starts before its parent"
        parents[i] = parent
        open_.append(i)
    return parents


def _paths(
    events: list[dict[str, Any]], parents: dict[int, int | None], top: int
) -> dict[int, tuple[str, ...]]:
    """The stack (names from `top`'s child in) of every slice below `top`."""
    paths: dict[int, tuple[str, ...]] = {top: ()}
    for i, parent in parents.items():  # parents come first
        if parent is not None and parent in paths:
            paths[i] = (*paths[parent], events[i]["name"])
    del paths[top]
    return paths


def _expected_stacks(profile: dict[str, Any]) -> dict[tuple[str, ...], dict[str, int]]:
    """The profile's stacks under `process`, with their self and total fuel."""
    names = profile["names"]
    process = profile["exports"]["process"]
    paths: list[tuple[str, ...] | None] = []
    found: dict[tuple[str, ...], dict[str, int]] = {}
    for parent, function, self_fuel, _calls, _us in profile["nodes"]:
        if parent < 0:
            path = None
        elif parent == 0:
            path = ("process",) if function == process else None
        else:
            above = paths[parent]
            path = None if above is None else (*above, names[str(function)])
        paths.append(path)
        if path is not None:
            found[path] = {"self_fuel": self_fuel, "total_fuel": self_fuel}
            for cut in range(1, len(path)):
                found[path[:cut]]["total_fuel"] += self_fuel
    return found


def test_chrome_export_nests_each_stack_under_process(cli) -> None:
    run(cli, SAMPLES / "word_freq.wasm", "--input", SAMPLE_INPUTS["word_freq"], "--profile")
    profile = last_profile(cli)
    events = _chrome(cli)
    parents = _nest(events)
    (process,) = [
        i for i in parents if events[i]["cat"] == "function" and events[i]["name"] == "process"
    ]
    flame = {i for i in parents if events[i]["cat"] == "profile"}
    paths = _paths(events, parents, process)
    # Every profile slice sits under `process`, and nothing else does.
    assert set(paths) == flame
    got = {paths[i]: events[i] for i in flame}
    assert len(got) == len(flame)  # one slice per stack
    expected = _expected_stacks(profile)
    assert set(got) == set(expected)
    for path, slice_ in got.items():
        args = slice_["args"]
        assert (args["self_fuel"], args["total_fuel"]) == (
            expected[path]["self_fuel"],
            expected[path]["total_fuel"],
        ), path
        # Durations are the measured times: a stack as long as its total time.
        assert slice_["dur"] == args["total_time_us"], path
    # Callees follow one another from their caller's start, in the order first called
    # (the profile's node order), their caller's self time after them.
    first_called = list(expected)
    for i in flame:
        children = sorted((j for j in flame if parents[j] == i), key=lambda j: events[j]["ts"])
        at = events[i]["ts"]
        for j in children:
            assert events[j]["ts"] == at
            at += events[j]["dur"]
        assert at + events[i]["args"]["self_time_us"] == events[i]["ts"] + events[i]["dur"]
        order = [first_called.index(paths[j]) for j in children]
        assert order == sorted(order), paths[i]
    top = next(i for i in flame if parents[i] == process)
    assert events[top]["ts"] == events[process]["ts"]
    assert "not a call sequence" in events[top]["args"]["layout"]
    # The whole process stack's fuel: everything the run spent outside `alloc`.
    assert events[top]["args"]["total_fuel"] == next(
        row["total_fuel"] for row in profile["functions"] if row["name"] == "process"
    )
    # The profile itself is not copied into an instant event.
    (marker,) = [e for e in events if e["name"] == "fuel profile"]
    assert marker["args"] == {
        "outcome": "completed",
        "fuel_attributed": profile["fuel_attributed"],
        "fuel_consumed": profile["fuel_consumed"],
    }


def test_chrome_flame_of_a_deep_recursion_and_its_fault(cli, wat_file) -> None:
    # 3,001 frames of $down under process (a walk of the stacks that recursed would not
    # get there), then a run that traps in process.
    data = run(
        cli, wat_file(RECURSION), "--input", "x" * 3000, "--max-call-depth", "5000", "--profile"
    )
    assert data["error"] is None
    events = _chrome(cli)
    parents = _nest(events)
    (process,) = [
        i for i in parents if events[i]["cat"] == "function" and events[i]["name"] == "process"
    ]
    paths = _paths(events, parents, process)
    assert max(len(p) for p in paths.values()) == 1 + 3001
    run(cli, SAMPLES / "faulty" / "divide_by_zero.wasm", "--profile")
    events = _chrome(cli)
    (faulted,) = [e for e in events if e.get("cat") == "profile" and e["args"].get("at_fault")]
    assert faulted["name"] == "process"


def test_chrome_without_a_profile_draws_no_flame(cli) -> None:
    run(cli, SAMPLES / "hello.wasm", "--input", "x")
    assert not [e for e in _chrome(cli) if e.get("cat") == "profile"]


def test_profile_slices_are_scaled_into_a_shorter_process() -> None:
    from wasmcli.tracing.profile_slices import profile_slices

    # process (10 us own) -> a (30 us) -> b (60 us): 100 us measured, drawn in 50.
    profile = {
        "nodes": [[-1, -1, 0, 0, 0], [0, 1, 5, 1, 10], [1, 2, 7, 1, 30], [2, 3, 9, 1, 60]],
        "names": {"1": "process", "2": "a", "3": "b"},
        "exports": {"process": 1},
    }
    drawn = [(s.name, s.begin_us, s.end_us) for s in profile_slices(profile, 1000, 1050)]
    assert drawn == [("process", 1000, 1050), ("a", 1000, 1045), ("b", 1000, 1030)]


# -- traces flamegraph --diff and --icicle ------------------------------------------------


def _frames(path: Path) -> list[dict[str, Any]]:
    """The SVG's frames: name, depth, x and width (shares of the whole), y, and fill."""
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    frames = []
    for g in root.iter(f"{SVG}g"):
        if g.get("class") != "f":
            continue
        rect = g.find(f"{SVG}rect")
        assert rect is not None and g.find(f"{SVG}title") is not None
        frames.append(
            {
                "name": g.get("data-n"),
                "depth": int(g.get("data-d") or 0),
                "x": float(g.get("data-x") or 0),
                "w": float(g.get("data-w") or 0),
                "y": float(rect.get("y") or 0),
                "fill": rect.get("fill"),
            }
        )
    return frames


def _frame_paths(frames: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Each frame's stack, from where it sits: inside the frame one level up."""
    paths: list[tuple[str, ...]] = []
    for frame in frames:
        if frame["depth"] == 0:
            paths.append(())
            continue
        around = [
            i
            for i, p in enumerate(frames)
            if p["depth"] == frame["depth"] - 1
            and p["x"] - 1e-9 <= frame["x"]
            and frame["x"] + frame["w"] <= p["x"] + p["w"] + 1e-9
        ]
        parent = max(around, key=lambda i: frames[i]["w"])
        paths.append((*paths[parent], frame["name"]))
    return paths


def _direction(fill: str) -> int:
    """1 for red, -1 for blue, 0 for white or grey."""
    found = re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", fill)
    assert found is not None, fill
    red, _, blue = (int(n) for n in found.groups())
    return (red > blue) - (blue > red)


def test_differential_flamegraph_colors_by_the_change_of_each_stack(
    cli, wat_file, tmp_path: Path
) -> None:
    plugin = str(wat_file(LEFT_RIGHT))
    before = run(cli, plugin, "--input", "x" * 20, "--profile")["trace_id"]
    folded_before = parse_folded(cli("traces", "export", "--format", "folded", "-n", "1").stdout)
    after = run(cli, plugin, "--input", "x" * 70, "--profile")["trace_id"]
    folded_after = parse_folded(cli("traces", "export", "--format", "folded", "-n", "1").stdout)
    out = tmp_path / "diff.svg"
    done = cli("traces", "flamegraph", after, "-o", str(out), "--diff", before)
    assert done.exit_code == 0, done.stderr
    frames = _frames(out)
    directions = {}
    for frame, path in zip(frames, _frame_paths(frames), strict=True):
        if path:
            change = folded_after.get(path, 0) - folded_before.get(path, 0)
            assert _direction(frame["fill"]) == (change > 0) - (change < 0), path
            directions[path] = _direction(frame["fill"])
    # Both colors are there: $left did more, $right less, process the same.
    assert directions[("process", "left_right", "left", "spin")] == 1
    assert directions[("process", "left_right", "right", "spin")] == -1
    assert directions[("process",)] == 0
    assert "red: more fuel than the other run, blue: less" in out.read_text()


def test_icicle_puts_the_callers_on_top(cli, wat_file, tmp_path: Path) -> None:
    run(cli, wat_file(LEFT_RIGHT), "--input", "x" * 20, "--profile")
    ys, drawn = {}, {}
    for layout in ("flame", "icicle"):
        out = tmp_path / f"{layout}.svg"
        flags = ["--icicle"] if layout == "icicle" else []
        assert cli("traces", "flamegraph", "last", "-o", str(out), *flags).exit_code == 0
        frames = _frames(out)
        # Every frame of a depth on one row.
        rows = {f["depth"]: {g["y"] for g in frames if g["depth"] == f["depth"]} for f in frames}
        assert all(len(row) == 1 for row in rows.values())
        ys[layout] = [rows[depth].pop() for depth in sorted(rows)]
        drawn[layout] = sorted((f["name"], f["depth"], f["x"], f["w"]) for f in frames)
    assert len(ys["flame"]) == 5  # all, process, left_right, left/right, spin
    assert drawn["flame"] == drawn["icicle"]  # the same frames, the same widths
    assert ys["icicle"] == sorted(ys["icicle"])  # deeper is lower: the root on top
    assert ys["flame"] == sorted(ys["flame"], reverse=True)  # deeper is higher


# -- traces show --profile ---------------------------------------------------------------


def test_show_with_profile_prints_the_timeline_then_the_top_functions(cli) -> None:
    data = run(cli, SAMPLES / "word_freq.wasm", "--input", SAMPLE_INPUTS["word_freq"], "--profile")
    out = cli("traces", "show", data["trace_id"], "--profile").stdout
    timeline_end = out.index("ExecutionComplete")
    assert out.index("ExecutionStart") < timeline_end
    table = out.index("self fuel", timeline_end)
    assert out.index("word_freq::sdk::alloc_slice", table)
    assert "Hottest stacks" in out[table:]
    # The profile's own event says what it holds, in one line, not its data.
    assert "fuel attributed" in out[: timeline_end + 200]


def test_show_with_profile_of_an_unprofiled_run_is_a_usage_error(cli) -> None:
    data = run(cli, SAMPLES / "hello.wasm", "--input", "x")
    done = cli("traces", "show", data["trace_id"], "--profile")
    assert done.exit_code == 2
    assert "has no profile: run the plugin with --profile" in done.stderr
    assert done.stdout == ""  # nothing half-printed before the error


# -- a run stopped by a signal ------------------------------------------------------------

# Calls $step 100 times, then $forever, which logs "ready" (what the test waits for: by
# then $forever has been entered) and loops.
STEPS_READY_LOOP = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ready")
  (func $step (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $forever (call $log (i32.const 0) (i32.const 5)) (loop $l (br $l)))
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (call $step (local.get $i)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (call $forever)
    (i32.const 0)))
"""


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_ctrl_c_keeps_the_profile_up_to_the_fault(engine_name: str, tmp_path: Path) -> None:
    # On wasmer the child process running the plugin is killed for the signal: the
    # profile comes from the journal it shares with wasmcli.
    from wasmcli.wasm.wat import wat_to_wasm

    from .test_subprocess import need_engine, wasmcli_exe

    need_engine(engine_name)
    plugin = tmp_path / "steps.wasm"
    plugin.write_bytes(wat_to_wasm(STEPS_READY_LOOP))
    env = {**os.environ, "WASMCLI_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [wasmcli_exe(), "run", str(plugin), "--engine", engine_name, "--profile"]
        + ["--timeout-ms", "60000", "--fuel", str(10**15)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready and proc.stdout.readline() == b"ready\n", "the plugin never started"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    shown = subprocess.run(
        [wasmcli_exe(), "traces", "profile", "last", "--json"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    profile = json.loads(shown.stdout)
    assert profile["outcome"] == "interrupted"
    calls = {row["name"]: row["calls"] for row in profile["functions"]}
    assert (calls["step"], calls["forever"]) == (100, 1)
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "forever"
