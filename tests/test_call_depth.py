"""The call-depth limit (`--max-call-depth`), through the CLI, on every engine.

A recursion gets the same verdict on both engines: the limit is a number of frames,
counted by code wasmcli adds to the plugin, reached before either engine's native stack
overflows for frames of up to the documented size (48 values of 64 bits live across the
call). Past that, or with a higher limit, the native stack overflow is the backstop.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wasmcli.config import DEFAULT_MAX_CALL_DEPTH, RunConfig

from .conftest import SAMPLES, CliResult, plugin_wat

DOCUMENTED_LIVE_VALUES = 48
DEPTH_TRAP = f"Plugin trapped: call depth limit {DEFAULT_MAX_CALL_DEPTH} exceeded"


def recursion(live: int) -> str:
    """A plugin whose `$down(n)` recurses n deep (n + 1 frames, `process` one more) with
    `live` i64 values live across each call: loaded from memory before the call and used
    after it, so no compiler can recompute them afterwards. n is the input's length, or
    2^32 - 1 (without end) when the input is empty."""
    locals_ = " ".join(f"(local $v{i} i64)" for i in range(live))
    loads = " ".join(
        f"(local.set $v{i} (i64.load offset={8 * i} (i32.and (local.get $n) (i32.const 0xff))))"
        for i in range(live)
    )
    mixed = "(i64.const 1)"
    for i in range(live):
        mixed = f"(i64.xor {mixed} (local.get $v{i}))"
    down = f"""(func $down (param $n i32) (result i64) {locals_}
      {loads}
      (if (result i64) (i32.eqz (local.get $n)) (then (i64.const 0))
        (else (i64.add (call $down (i32.sub (local.get $n) (i32.const 1))) {mixed}))))"""
    return plugin_wat(
        "(drop (call $down (select (local.get $in_len) (i32.const -1) (local.get $in_len))))"
        " (i32.const 0)",
        extra=down,
    )


def run_json(cli: Callable[..., CliResult], *args: str) -> tuple[int, Any]:
    result = cli("run", *args, "--json")
    return result.exit_code, result.json()


@pytest.mark.parametrize("live", [0, 16, DOCUMENTED_LIVE_VALUES])
def test_the_default_limit_comes_before_the_native_stack(cli, wat_file, live: int) -> None:
    plugin = str(wat_file(recursion(live)))
    # Without end: the limit stops it, on every engine, with the same words.
    code, data = run_json(cli, plugin)
    assert code == 8
    assert data["error"]["kind"] == "trap"
    assert data["error"]["message"] == DEPTH_TRAP
    # The engine's stack does hold the default's frames of this size: exactly the default
    # number of frames completes with the limit out of the way, and with the default.
    exactly = "x" * (DEFAULT_MAX_CALL_DEPTH - 2)
    code, data = run_json(cli, plugin, "--input", exactly, "--max-call-depth", "1000000")
    assert (code, data["error"]) == (0, None)
    assert run_json(cli, plugin, "--input", exactly)[0] == 0
    assert run_json(cli, plugin, "--input", exactly + "x")[1]["error"]["message"] == DEPTH_TRAP


def test_the_native_stack_overflow_stays_as_the_backstop(cli, wat_file) -> None:
    for plugin in (
        str(SAMPLES / "faulty" / "stack_overflow.wasm"),
        str(wat_file(recursion(DOCUMENTED_LIVE_VALUES))),
    ):
        assert run_json(cli, plugin)[1]["error"]["message"] == DEPTH_TRAP
        code, data = run_json(cli, plugin, "--max-call-depth", "1000000")
        assert code == 8 and data["error"]["kind"] == "trap"
        assert "stack overflow" in data["error"]["message"]


@pytest.mark.parametrize("plugin", ["hello", "counter", "uppercase", "json_fields", "word_freq"])
def test_the_sample_plugins_need_a_handful_of_frames(cli, plugin: str) -> None:
    """Far below the default: each completes with 10 frames."""
    code, data = run_json(
        cli, str(SAMPLES / f"{plugin}.wasm"), "--input", '{"user":"ada"}', "--max-call-depth", "10"
    )
    assert code in (0, 1) and data["error"] is None


# f(n) recurses n deep through call_indirect; process calls it with the input's length.
INDIRECT = plugin_wat(
    "(drop (call $down (local.get $in_len))) (i32.const 0)",
    extra="""(type $t (func (param i32) (result i32)))
  (table 1 funcref) (elem (i32.const 0) $down)
  (func $down (type $t)
    (if (result i32) (local.get 0)
      (then (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0)))
      (else (i32.const 0))))""",
)


def test_the_limit_is_exact_and_counts_call_indirect(cli, wat_file) -> None:
    """process + $down(n): n + 2 frames."""
    plugin = str(wat_file(INDIRECT))
    assert run_json(cli, plugin, "--input", "x" * 8, "--max-call-depth", "10")[0] == 0
    code, data = run_json(cli, plugin, "--input", "x" * 9, "--max-call-depth", "10")
    assert code == 8
    assert data["error"]["message"] == "Plugin trapped: call depth limit 10 exceeded"
    assert data["error"]["stage"] == "process"


START = plugin_wat(
    "(i32.const 0)",
    extra="""(func $down (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (call $down (i32.sub (local.get 0) (i32.const 1)))) (else (i32.const 0))))
  (func $init (drop (call $down (i32.const 20))))
  (start $init)""",
)


def test_recursion_in_the_start_function_counts_and_keeps_its_kind(cli, wat_file) -> None:
    """$init and $down(20): 22 frames. A limit keeps its kind in the start function, as
    fuel and the timeout do (a plain trap there is exit 4, abi)."""
    plugin = str(wat_file(START))
    assert run_json(cli, plugin, "--max-call-depth", "22")[0] == 0
    code, data = run_json(cli, plugin, "--max-call-depth", "21")
    assert code == 8
    assert data["error"]["kind"] == "trap"
    assert data["error"]["message"] == "Plugin trapped: call depth limit 21 exceeded"


def test_the_trace_and_the_error_panel_name_the_limit(cli) -> None:
    plugin = str(SAMPLES / "faulty" / "stack_overflow.wasm")
    result = cli("run", plugin, "--max-call-depth", "300", "--trace")
    assert result.exit_code == 8
    assert "call depth limit 300 exceeded" in result.stderr
    assert "300 frames" in result.stderr
    assert "Raise the limit with --max-call-depth." in result.stderr
    assert "recurse @ " in result.stderr and "(× " in result.stderr  # folded frames
    trace = cli("traces", "show", "--last", "--json").json()
    assert trace["error_kind"] == "trap"
    start = next(e for e in trace["events"] if e["event_type"] == "ExecutionStart")
    assert start["metadata"]["max_call_depth"] == 300


def test_a_module_compiled_for_another_limit_is_never_used(cli, wat_file, wasmcli_home) -> None:
    plugin = str(wat_file(INDIRECT))
    deep = "x" * 60  # 62 frames
    assert run_json(cli, plugin, "--input", deep, "--max-call-depth", "50")[0] == 8
    assert run_json(cli, plugin, "--input", deep, "--max-call-depth", "100")[0] == 0
    assert run_json(cli, plugin, "--input", deep, "--max-call-depth", "50")[0] == 8
    artifacts = sorted(wasmcli_home.glob("cache/*/*.bin"), key=lambda p: p.stat().st_mtime)
    assert len(artifacts) == 2  # one per limit, each found again by its configuration
    # The artifact for 50 copied over the one for 100: its header names the limit it was
    # compiled for, so it is not loaded; the module is compiled again for 100.
    for_50, for_100 = artifacts
    shutil.copyfile(for_50, for_100)
    assert run_json(cli, plugin, "--input", deep, "--max-call-depth", "100")[0] == 0
    assert for_100.read_bytes() != for_50.read_bytes()


def test_an_instance_counting_to_another_limit_is_refused() -> None:
    """Behind the cache's check, each new instance is checked (on both engines, by this
    code): its counter must start at the run's limit."""
    from wasmcli.engines.instrumented import Instrumentation
    from wasmcli.errors import ErrorKind, WasmcliError
    from wasmcli.wasm import DEPTH_EXPORT

    assert Instrumentation.of_instance(None, lambda name: 0) is None
    checked = Instrumentation.of_instance(100, {DEPTH_EXPORT: 100}.__getitem__)
    assert checked is not None and checked.max_depth == 100
    with pytest.raises(WasmcliError) as info:
        Instrumentation.of_instance(100, {DEPTH_EXPORT: 50}.__getitem__)
    assert info.value.kind is ErrorKind.INTERNAL
    assert "counts call depth to 50, not 100" in info.value.message


def test_wasmtime_refuses_an_instance_of_code_for_another_limit() -> None:
    from wasmcli.engines.base import EngineLimits
    from wasmcli.engines.wasmtime_engine import WasmtimeEngine
    from wasmcli.errors import WasmcliError
    from wasmcli.wasm.wat import wat_to_wasm

    engine = WasmtimeEngine()
    wasm = wat_to_wasm(INDIRECT)
    compiled_for = EngineLimits(fuel=10**6, timeout_ms=5000, memory_limit_bytes=1 << 20)
    module = engine.load(wasm, compiled_for, None)
    run_with = EngineLimits(
        fuel=10**6, timeout_ms=5000, memory_limit_bytes=1 << 20, max_call_depth=100
    )

    class Discard:
        def check_room(self, size: int) -> None:
            pass

        def __call__(self, raw: bytes) -> None:
            pass

    with pytest.raises(WasmcliError, match="counts call depth to 1000, not 100"):
        engine.instantiate(module, run_with, Discard())


def test_a_plugin_cannot_reach_the_counter(cli, wat_file) -> None:
    """The counter is a global the pass appends: a plugin naming the global one past its
    own is invalid as written, and refused before any pass runs (exit 3 on both)."""
    plugin = plugin_wat(
        "(call $down (i32.const 0))",
        extra="""(func $down (param i32) (result i32)
        (global.set 0 (i32.const 1000000))
        (call $down (local.get 0)))""",
    )
    code, data = run_json(cli, str(wat_file(plugin)))
    assert code == 3
    assert "global" in data["error"]["message"]


def _fuel_and_output(
    engine: str, plugin: Path, text: str, depth: int | None, home: Path
) -> tuple[int | None, str, object]:
    from wasmcli.runtime.executor import Executor
    from wasmcli.store.registry import Registry
    from wasmcli.tracing.tracer import Tracer

    executor = Executor(Registry(home), tracer=Tracer(enabled=False))
    config = RunConfig(engine=engine, seed=1, timestamp_ns=1, max_call_depth=depth)
    result = executor.execute(str(plugin), text, config)
    return result.fuel_consumed, result.output, result.error


@pytest.mark.parametrize(
    "plugin",
    ["hello", "counter", "uppercase", "json_fields", "word_freq", "faulty/grow_loop"],
)
def test_the_fuel_of_a_run_is_what_it_was_without_the_count(
    engine: str, plugin: str, tmp_path: Path
) -> None:
    """The count's own code is refunded: every completed run reports the fuel of the same
    run compiled without it (on wasmtime, native fuel; on wasmer, the fuel pass)."""
    path = SAMPLES / f"{plugin}.wasm"
    text = '{"user":"ada","age":36} the cat and the dog ' * 20
    counted = _fuel_and_output(engine, path, text, DEFAULT_MAX_CALL_DEPTH, tmp_path)
    uncounted = _fuel_and_output(engine, path, text, None, tmp_path)
    assert counted == uncounted
    assert counted[0] is not None and counted[0] > 0
