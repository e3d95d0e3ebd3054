"""How each way a plugin can fail is told, the same on both engines: the error's kind,
its words, and the backtrace's functions (wasmer's offsets point into the instrumented
module, so only the names are compared)."""

from __future__ import annotations

import pytest

from .conftest import SAMPLES, plugin_wat

FAULTY = SAMPLES / "faulty"


def _error(cli, *args: str) -> dict[str, object]:
    result = cli("run", *args, "--json")
    error = result.json()["error"]
    assert isinstance(error, dict), result
    return error


def _functions(error: dict[str, object]) -> list[str]:
    backtrace = error["backtrace"]
    assert isinstance(backtrace, list)
    return [frame.split(" @ ")[0] for frame in backtrace]


@pytest.mark.parametrize(
    ("args", "kind", "message", "functions"),
    [
        (
            ("divide_by_zero.wasm",),
            "trap",
            "Plugin trapped: integer divide by zero",
            ["process"],
        ),
        (
            ("start_trap.wasm",),
            "abi",
            "Failed to instantiate module: the start function trapped: unreachable "
            "instruction executed (a plugin panic or abort)",
            ["init"],
        ),
        (
            ("stack_overflow.wasm",),
            "trap",
            "Plugin trapped: call depth limit 1000 exceeded",
            ["recurse", "recurse"],
        ),
        (
            ("infinite_loop.wasm", "--fuel", "50000"),
            "out_of_fuel",
            "Out of fuel: the plugin used all 50,000 units",
            ["process"],
        ),
        (
            # Fuel enough for minutes: the wall clock stops it.
            ("infinite_loop.wasm", "--fuel", "1000000000000", "--timeout-ms", "300"),
            "timeout",
            "Execution timeout",
            ["process"],
        ),
    ],
    ids=["trap", "start-trap", "call-depth", "out-of-fuel", "timeout"],
)
def test_each_failure_is_told_with_its_words_and_backtrace(
    cli, engine: str, args: tuple[str, ...], kind: str, message: str, functions: list[str]
) -> None:
    error = _error(cli, str(FAULTY / args[0]), *args[1:])
    assert (error["kind"], error["message"]) == (kind, message)
    # What trapped, for scripts: set for a trap, a start function's too, and only then.
    trap = message.rpartition("trapped: ")[2] if kind in ("trap", "abi") else None
    assert error["trap"] == trap
    if engine == "wasmer" and kind == "timeout":
        functions = []  # its child process is stopped from outside: no backtrace
    # wasmer adds the frame of the wrapper that calls a start function (an export of
    # the instrumented module): the plugin's own frames come first on both.
    assert _functions(error)[: len(functions)] == functions


def test_a_memory_above_the_limit_is_said_in_mb(cli, wat_file) -> None:
    module = plugin_wat("(i32.const 0)", memory='(memory (export "memory") 65)')
    error = _error(cli, str(wat_file(module)), "--memory-limit-mb", "4")
    assert (error["kind"], error["message"]) == (
        "memory_limit",
        "Memory limit exceeded: 4.06 MB > 4 MB",
    )
    whole = plugin_wat("(i32.const 0)", memory='(memory (export "memory") 128)')
    error = _error(cli, str(wat_file(whole)), "--memory-limit-mb", "4")
    assert error["message"] == "Memory limit exceeded: 8 MB > 4 MB"


def test_input_and_env_may_fill_the_memory_to_its_last_byte(cli, wat_file) -> None:
    # Placed in fresh pages, input and env may end exactly at the end of the memory.
    plugin = str(wat_file(plugin_wat("(i32.const 0)")))
    env_args = ("--seed", "1", "--timestamp", "1")
    assert cli("run", plugin, "--input", "", *env_args).exit_code == 0
    events = cli("traces", "show", "--last", "--json").json()["events"]
    env_bytes = next(e for e in events if e["message"] == "Env written")["metadata"]["bytes"]
    result = cli("run", plugin, "--input", "x" * (65536 - env_bytes), *env_args)
    assert result.exit_code == 0, result
    events = cli("traces", "show", "--last", "--json").json()["events"]
    written = next(e for e in events if e["message"] == "Env written")["metadata"]
    assert (written["ptr"] + written["bytes"], written["pages_after"]) == (2 * 65536, 2)


SEGMENTS_OUT_OF_BOUNDS = {
    # Two bytes placed at the last byte of the only page.
    "data": (
        '(data (i32.const 65535) "xy")',
        "a data segment does not fit in the plugin's memory",
    ),
    # A function placed at index 1 of a table of one element.
    "element": (
        "(table 1 funcref) (elem (i32.const 1) func $f) (func $f)",
        "an element segment does not fit in its table",
    ),
}


@pytest.mark.parametrize("segment", list(SEGMENTS_OUT_OF_BOUNDS))
@pytest.mark.parametrize("with_start", [False, True], ids=["no-start", "start"])
def test_a_segment_out_of_bounds_fails_instantiation_in_the_same_words(
    cli, wat_file, segment: str, with_start: bool
) -> None:
    # Segments are placed before a start function runs: it never runs, and is not blamed.
    extra, words = SEGMENTS_OUT_OF_BOUNDS[segment]
    if with_start:
        extra += " (func $init (call $log (i32.const 0) (i32.const 2))) (start $init)"
    result = cli("run", str(wat_file(plugin_wat("(i32.const 0)", extra=extra))), "--json")
    assert result.exit_code == 4, result
    error = result.json()["error"]
    assert (error["kind"], error["message"], error["backtrace"], error["stage"]) == (
        "abi",
        f"Failed to instantiate module: {words}",
        [],
        "instantiate",
    )
    assert result.json()["output"] == ""


def test_a_log_line_may_end_at_the_last_byte_of_memory(cli, wat_file) -> None:
    # The host may have grown the memory for the input: the end is read at run time.
    module = plugin_wat(
        """(local $end i32)
        (local.set $end (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 5)))
        (i32.store (local.get $end) (i32.const 0x7473616c))
        (i32.store8 offset=4 (local.get $end) (i32.const 0x21))
        (call $log (local.get $end) (i32.const 5))
        (i32.const 0)"""
    )
    result = cli("run", str(wat_file(module)), "--json")
    assert result.exit_code == 0, result
    assert result.json()["output"] == "last!"


def test_a_module_from_the_cache_names_the_same_frames(cli) -> None:
    # The second run loads the compiled module from the cache: its backtrace still reads
    # the plugin's own file (names and offsets).
    plugin = str(FAULTY / "divide_by_zero.wasm")
    first = _error(cli, plugin)
    second = _error(cli, plugin)
    module_step = [
        e["metadata"]
        for e in cli("traces", "show", "--last", "--json").json()["events"]
        if e["metadata"].get("step") == "module"
    ]
    assert [step["from_cache"] for step in module_step] == [True]
    assert second["backtrace"] == first["backtrace"]
    assert _functions(second) == ["process"]
