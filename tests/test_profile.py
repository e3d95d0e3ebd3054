"""`run --profile` and what reads its profiles, through the CLI, on every engine.

The profile is exact: on a run that completes or runs out of fuel, the self fuel of its
stacks sums to the run's fuel_consumed, which is what the same run reports unprofiled;
and it is the same on both engines (compared where both are installed).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SAMPLES, CliResult, plugin_wat

SAMPLE_INPUTS = {
    "hello": "world",
    "counter": "a b c",
    "uppercase": "shout this",
    "json_fields": '{"user":"ada","id":7}',
    "word_freq": "the cat and the dog and the end " * 20,
}


def parse_folded(text: str) -> dict[tuple[str, ...], int]:
    """Folded stacks as the format defines them: one stack per line, frames separated
    by `;`, then a space and the weight (the last space of the line)."""
    stacks: dict[tuple[str, ...], int] = {}
    for line in text.splitlines():
        stack, _, weight = line.rpartition(" ")
        assert stack and weight.isdigit(), line
        frames = tuple(stack.split(";"))
        assert all(frames), line
        stacks[frames] = stacks.get(frames, 0) + int(weight)
    return stacks


def run(cli: Callable[..., CliResult], plugin: str | Path, *args: str) -> dict[str, Any]:
    # A fixed seed and time: json_fields prints them, and their length costs fuel.
    result = cli("run", str(plugin), *args, "--seed", "7", "--timestamp", "1", "--json")
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def last_profile(cli: Callable[..., CliResult]) -> dict[str, Any]:
    result = cli("traces", "profile", "last", "--json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def stack_sum(profile: dict[str, Any]) -> int:
    return sum(node[2] for node in profile["nodes"])


@pytest.mark.parametrize("plugin", sorted(SAMPLE_INPUTS))
def test_stacks_sum_to_the_fuel_of_the_same_run_unprofiled(cli, plugin: str) -> None:
    path = SAMPLES / f"{plugin}.wasm"
    plain = run(cli, path, "--input", SAMPLE_INPUTS[plugin])
    profiled = run(cli, path, "--input", SAMPLE_INPUTS[plugin], "--profile")
    assert profiled["fuel_consumed"] == plain["fuel_consumed"] > 0
    profile = last_profile(cli)
    assert profile["outcome"] == "completed"
    assert stack_sum(profile) == profile["fuel_attributed"] == plain["fuel_consumed"]
    assert sum(row["self_fuel"] for row in profile["functions"]) == plain["fuel_consumed"]
    assert profile["fault_node"] is None
    # The exported function is the outermost frame of what it ran.
    process = next(row for row in profile["functions"] if row["name"] == "process")
    assert process["calls"] == 1
    assert process["total_fuel"] <= plain["fuel_consumed"]


def test_without_profile_nothing_is_recorded(cli) -> None:
    run(cli, SAMPLES / "hello.wasm", "--input", "x")
    result = cli("traces", "profile", "last")
    assert result.exit_code == 2
    assert "has no profile: run the plugin with --profile" in result.stderr
    shown = json.loads(cli("traces", "show", "--last", "--json").stdout)
    assert all(event["message"] != "Fuel profile" for event in shown["events"])


def test_profile_cannot_go_without_a_trace(cli) -> None:
    result = cli("run", str(SAMPLES / "hello.wasm"), "--profile", "--no-trace")
    assert result.exit_code == 2
    assert "--profile" in result.stderr and "--no-trace" in result.stderr


# $down(n) recurses n deep: n + 1 frames of $down under process.
RECURSION = plugin_wat(
    "(drop (call $down (local.get $in_len))) (i32.const 0)",
    extra="""(func $down (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.add (call $down (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
      (else (i32.const 0))))""",
)


def test_recursion_gives_one_stack_per_depth_and_counts_totals_once(cli, wat_file) -> None:
    data = run(cli, wat_file(RECURSION), "--input", "x" * 5, "--profile")
    profile = last_profile(cli)
    down = next(row for row in profile["functions"] if row["name"] == "down")
    assert down["calls"] == 6
    # Inclusive fuel counts each fuel unit once, however deep the recursion.
    assert down["total_fuel"] == down["self_fuel"]
    process = next(row for row in profile["functions"] if row["name"] == "process")
    assert process["total_fuel"] == process["self_fuel"] + down["total_fuel"]
    assert process["total_fuel"] == data["fuel_consumed"]
    stacks = parse_folded(cli("traces", "export", "--format", "folded", "-n", "1").stdout)
    depths = sorted(len(frames) for frames in stacks)
    assert depths == [1, 2, 3, 4, 5, 6, 7]
    assert ("process", *["down"] * 6) in stacks
    # Each level's self fuel is the same code: every non-deepest level costs the same.
    levels = [stacks[("process", *["down"] * d)] for d in range(1, 6)]
    assert len(set(levels)) == 1


START = plugin_wat(
    "(call $work) (i32.const 0)",
    extra="""(func $work (local i32)
    (loop $l (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 50)))))
  (func $init (call $work))
  (start $init)""",
)


def test_fuel_of_the_start_function_is_its_own(cli, wat_file) -> None:
    data = run(cli, wat_file(START), "--profile")
    stacks = parse_folded(cli("traces", "export", "--format", "folded", "-n", "1").stdout)
    assert ("init", "work") in stacks and ("process", "work") in stacks
    # The same work, started from either place, costs the same.
    assert stacks[("init", "work")] == stacks[("process", "work")] > 50
    assert sum(stacks.values()) == data["fuel_consumed"]


# The start function does $work, then calls $boom, which does the same $work and then
# traps (or, FAILING_START with a loop, spins until the fuel runs out).
WORK = """(func $work (local i32)
    (loop $l (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 50)))))"""


def failing_start(fault: str) -> str:
    return plugin_wat(
        "(i32.const 0)",
        extra=f"""{WORK}
  (func $boom (call $work) {fault})
  (func $init (call $work) (call $boom))
  (start $init)""",
    )


def test_a_trapping_start_function_keeps_its_profile(cli, wat_file) -> None:
    result = cli("run", str(wat_file(failing_start("(unreachable)"))), "--profile")
    assert result.exit_code == 4, result.stderr  # the start function failed
    profile = last_profile(cli)
    stacks = stacks_of(profile)
    # Each stack's fuel is the code it ran: the same $work costs the same in both places,
    # and no frame the trap left open is charged for exit code it never ran.
    assert stacks[("init", "work")] == stacks[("init", "boom", "work")]
    assert stacks[("init", "work")][1] > 50
    assert all(node[2] >= 0 for node in profile["nodes"])
    assert stacks[("init", "boom")][1] > 0
    # Totals hold a frame and its callees, and nothing of the frames around it.
    functions = {row["name"]: row for row in profile["functions"]}
    under_boom = stacks[("init", "boom")][1] + stacks[("init", "boom", "work")][1]
    assert functions["boom"]["total_fuel"] == under_boom
    instantiation = functions["[instantiation]"]["self_fuel"]
    assert functions["init"]["total_fuel"] == profile["fuel_attributed"] - instantiation
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "boom"
    assert "Stopped (abi) in: init → boom" in cli("traces", "profile", "last").stdout
    assert profile["fuel_consumed"] is None  # unknown after a trap, as for the run


def test_a_start_function_out_of_fuel_sums_to_the_limit(cli, wat_file) -> None:
    plugin = wat_file(failing_start("(loop $spin (br $spin))"))
    data = run(cli, plugin, "--fuel", "1000", "--profile")
    assert data["error"]["kind"] == "out_of_fuel"
    profile = last_profile(cli)
    assert profile["outcome"] == "out_of_fuel"
    assert stack_sum(profile) == profile["fuel_consumed"] == data["fuel_consumed"] == 1000
    assert all(node[2] >= 0 for node in profile["nodes"])
    stacks = stacks_of(profile)
    assert stacks[("init", "work")] == stacks[("init", "boom", "work")]
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "boom"


def test_a_start_function_past_its_deadline_times_out_and_keeps_its_profile(cli, wat_file) -> None:
    plugin = wat_file(failing_start("(loop $spin (br $spin))"))
    limits = ("--timeout-ms", "300", "--fuel", str(10**15))
    # The verdict is the deadline's, as anywhere else (wasmtime called it a failed start).
    plain = cli("run", str(plugin), *limits, "--json")
    assert plain.exit_code == 5, plain.stdout
    assert json.loads(plain.stdout)["error"]["kind"] == "timeout"
    data = run(cli, plugin, *limits, "--profile")
    assert data["error"]["kind"] == "timeout"
    profile = last_profile(cli)
    assert profile["outcome"] == "timeout"
    stacks = stacks_of(profile)
    assert stacks[("init", "work")] == stacks[("init", "boom", "work")]
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "boom"


def test_a_trap_keeps_the_profile_up_to_the_fault(cli) -> None:
    data = run(cli, SAMPLES / "faulty" / "divide_by_zero.wasm", "--profile")
    assert data["error"]["kind"] == "trap"
    profile = last_profile(cli)
    assert profile["outcome"] == "trap"
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "process"
    table = cli("traces", "profile", "last").stdout
    assert "Stopped (trap) in: process" in table


def test_out_of_fuel_sums_to_the_limit(cli, wat_file) -> None:
    data = run(cli, wat_file(RECURSION), "--input", "x" * 50, "--fuel", "700", "--profile")
    assert data["error"]["kind"] == "out_of_fuel"
    profile = last_profile(cli)
    assert profile["outcome"] == "out_of_fuel"
    assert stack_sum(profile) == data["fuel_consumed"] == 700
    assert profile["fault_node"] is not None


def test_a_timeout_marks_the_stack_it_stopped_in(cli) -> None:
    # On wasmer too, whose child process is killed at the deadline: the profile is
    # recovered from the journal it shares with wasmcli.
    plugin = SAMPLES / "faulty" / "infinite_loop.wasm"
    data = run(cli, plugin, "--timeout-ms", "300", "--fuel", str(10**15), "--profile")
    assert data["error"]["kind"] == "timeout"
    profile = last_profile(cli)
    assert profile["outcome"] == "timeout"
    assert profile["fault_node"] is not None
    assert profile["names"][str(profile["nodes"][profile["fault_node"]][1])] == "process"


# $steps calls $step 3,000 times (6,000 events), then process calls $spin, which loops
# forever (or, with `$spin` returning, the same run completed).
def calls_then(spin_body: str) -> str:
    return plugin_wat(
        "(call $steps) (call $spin) (i32.const 0)",
        extra=f"""(func $step (param i32) (result i32) (i32.mul (local.get 0) (i32.const 7)))
  (func $steps (local $i i32)
    (loop $l
      (drop (call $step (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 3000)))))
  (func $spin {spin_body})""",
    )


def test_a_timeout_keeps_every_call_before_it(cli, wat_file, monkeypatch) -> None:
    # A small journal ring on wasmer: the child saves its state six times over, and
    # wasmcli replays what came after the last save.
    from wasmcli.engines import profile_journal

    monkeypatch.setattr(profile_journal, "CAPACITY", 1000)
    run(cli, wat_file(calls_then(""), "done"), "--profile")
    done = stacks_of(last_profile(cli))
    # 6,000 events take some milliseconds: the deadline leaves them room on a busy machine.
    looping = wat_file(calls_then("(loop $l (br $l))"), "loops")
    data = run(cli, looping, "--timeout-ms", "1000", "--fuel", str(10**15), "--profile")
    assert data["error"]["kind"] == "timeout"
    profile = last_profile(cli)
    stopped = stacks_of(profile)
    # Up to the fault, the same run: every stack under $steps is the completed run's.
    under_steps = {k: v for k, v in done.items() if k[:2] == ("process", "steps")}
    assert under_steps[("process", "steps", "step")][0] == 3000
    assert {k: v for k, v in stopped.items() if k[:2] == ("process", "steps")} == under_steps
    fault = profile["nodes"][profile["fault_node"]]
    assert profile["names"][str(fault[1])] == "spin"
    assert stopped[("process", "spin")][0] == 1


def stacks_of(profile: dict[str, Any]) -> dict[tuple[str, ...], list[int]]:
    """Each stack's [calls, self fuel], by its frames' names."""
    paths: list[tuple[str, ...]] = []
    found: dict[tuple[str, ...], list[int]] = {}
    for parent, function, self_fuel, calls, _ in profile["nodes"]:
        if parent < 0:
            paths.append(())
            continue
        path = (*paths[parent], profile["names"][str(function)])
        paths.append(path)
        found[path] = [calls, self_fuel]
    return found


def test_traces_profile_shows_functions_with_bars_then_stacks(cli) -> None:
    run(cli, SAMPLES / "word_freq.wasm", "--input", SAMPLE_INPUTS["word_freq"], "--profile")
    out = cli("traces", "profile", "last", "--top", "3").stdout
    assert "word_freq::sdk::alloc_slice" in out  # demangled, from the name section
    assert "self fuel" in out and "total fuel" in out and "█" in out
    assert "Hottest stacks" in out and "process → " in out
    assert "more functions (--top N, or --json)" in out


README_WORDS = "the quick brown fox jumps over the lazy dog " * 2000


def test_the_readme_profile_table_is_what_the_cli_prints(cli, tmp_path, monkeypatch) -> None:
    import re

    from .conftest import REPO

    section = (REPO / "README.md").read_text(encoding="utf-8").split("\n## Profiles\n")[1]
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    assert 'print("the quick brown fox jumps over the lazy dog " * 2000)' in block
    shown = block.split("$ wasmcli traces profile last --top 6\n", 1)[1]
    words = tmp_path / "words.txt"
    words.write_text(README_WORDS + "\n")
    run(cli, SAMPLES / "word_freq.wasm", "--input-file", str(words), "--profile")
    monkeypatch.setenv("COLUMNS", "100")  # the README's table is a 100-column terminal's
    printed = cli("traces", "profile", "last", "--top", "6").stdout

    def same_run(text: str) -> str:  # any trace id, any engine
        return re.sub(r"\([0-9a-f]{8}, \w+\)", "(ID, ENGINE)", text).rstrip()

    assert same_run(printed) == same_run(shown)


def test_speedscope_export_has_its_file_format_fields(cli) -> None:
    data = run(cli, SAMPLES / "word_freq.wasm", "--input", "a b a", "--profile")
    doc = json.loads(cli("traces", "export", "--format", "speedscope", "-n", "1").stdout)
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert all(isinstance(frame["name"], str) for frame in frames)
    (profile,) = doc["profiles"]
    assert profile["type"] == "sampled" and profile["unit"] == "none"
    assert len(profile["samples"]) == len(profile["weights"])
    assert all(0 <= index < len(frames) for sample in profile["samples"] for index in sample)
    assert sum(profile["weights"]) == profile["endValue"] == data["fuel_consumed"]


def test_folded_frames_never_hold_the_separators() -> None:
    from wasmcli.profile.folded import frame_text

    assert frame_text("a;b\nc\rd") == "a:b c d"


def test_both_engines_give_the_same_folded_output(any_engine_cli, monkeypatch) -> None:
    from wasmcli.engines import available_engines

    if set(available_engines()) != {"wasmtime", "wasmer"}:
        pytest.skip("needs both engines (Python 3.10)")
    # Every sample plugin, the faulty ones too (traps, a start function's trap, the call
    # depth, out of fuel: the fuel bound ends the endless ones, never the clock).
    plugins = sorted(SAMPLES.rglob("*.wasm"))
    assert len(plugins) > len(SAMPLE_INPUTS)
    for plugin in plugins:
        text = SAMPLE_INPUTS.get(plugin.stem, "abc")
        folded = {}
        for engine in ("wasmtime", "wasmer"):
            monkeypatch.setenv("WASMCLI_ENGINE", engine)
            args = ("--input", text, "--fuel", "1000000", "--timeout-ms", "60000", "--profile")
            run(any_engine_cli, plugin, *args)
            out = any_engine_cli("traces", "export", "--format", "folded", "-n", "1").stdout
            folded[engine] = out
        assert folded["wasmtime"] == folded["wasmer"], plugin
        if plugin.stem in SAMPLE_INPUTS:
            assert parse_folded(folded["wasmtime"])


def test_both_engines_give_the_same_profile_of_a_failing_start_function(
    any_engine_cli, wat_file, monkeypatch
) -> None:
    from wasmcli.engines import available_engines

    if set(available_engines()) != {"wasmtime", "wasmer"}:
        pytest.skip("needs both engines (Python 3.10)")
    for fault, args in (("(unreachable)", ()), ("(loop $spin (br $spin))", ("--fuel", "1000"))):
        plugin = wat_file(failing_start(fault))
        profiles = {}
        for engine in ("wasmtime", "wasmer"):
            monkeypatch.setenv("WASMCLI_ENGINE", engine)
            any_engine_cli("run", str(plugin), *args, "--profile")
            profile = last_profile(any_engine_cli)
            profiles[engine] = (stacks_of(profile), profile["fault_node"], profile["outcome"])
        assert profiles["wasmtime"] == profiles["wasmer"], fault


def test_flamegraph_is_well_formed_svg_with_the_names(cli, tmp_path: Path) -> None:
    run(cli, SAMPLES / "word_freq.wasm", "--input", SAMPLE_INPUTS["word_freq"], "--profile")
    out = tmp_path / "flame.svg"
    result = cli("traces", "flamegraph", "last", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = out.read_text()
    assert "word_freq::sdk::alloc_slice" in text and "process" in text
    assert "http://" not in text.replace("http://www.w3.org/", "")  # no network


def _png_pixels(png: bytes) -> bytes:
    """The decompressed image data of a PNG (its IDAT chunks)."""
    import struct
    import zlib

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data = 8, b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return zlib.decompress(data)


def test_flamegraph_renders_in_a_real_browser(cli, tmp_path: Path) -> None:
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium installed")
    run(cli, SAMPLES / "word_freq.wasm", "--input", SAMPLE_INPUTS["word_freq"], "--profile")
    svg = tmp_path / "flame.svg"
    assert cli("traces", "flamegraph", "last", "-o", str(svg)).exit_code == 0
    flags = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    dom = subprocess.run(
        [*flags, "--dump-dom", svg.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "word_freq::sdk::alloc_slice" in dom and "process" in dom
    png = tmp_path / "flame.png"
    subprocess.run(
        [*flags, f"--screenshot={png}", "--window-size=1200,300", svg.as_uri()],
        capture_output=True,
        timeout=120,
    )
    pixels = _png_pixels(png.read_bytes())
    # A blank page is one color: its rows hold a handful of distinct bytes.
    assert len(set(pixels)) > 40
