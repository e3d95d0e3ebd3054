"""Both engines give the same results: output, return code, exit code, error kind, trace
event flow and, for the same run, the same fuel. Runs where both engines are installed
(Python 3.10); elsewhere it checks that asking for wasmer fails with one clear line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wasmcli.engines import available_engines

from .conftest import SAMPLES

BOTH = {"wasmtime", "wasmer"} <= set(available_engines())
needs_both = pytest.mark.skipif(not BOTH, reason="wasmer is not installed on this Python")

REPRODUCIBLE = ["--seed", "7", "--timestamp", "1700000000000000000"]
RUNS = [
    ("hello", ["--input", "world"]),
    ("counter", ["--input", "héllo wörld 123"]),
    ("uppercase", ["--input", "héllo, world"]),
    ("uppercase", ["--input", "a" * 70000]),
    ("json_fields", ["--env", "name=x", "--input", '{"user":"ada","age":36,"admin":true}']),
    ("json_fields", ["--input", '{"user":"ada",}']),
    ("word_freq", ["--input", "the cat and The dog and THE end " * 200]),
    ("faulty/grow_loop", ["--memory-limit-mb", "4"]),
    ("faulty/memory_bomb", ["--memory-limit-mb", "4"]),
    ("faulty/tiny_memory", ["--input", "hi"]),
    ("faulty/log_flood", []),
    ("faulty/invalid_utf8_output", []),
    ("faulty/infinite_loop", ["--fuel", "1000000"]),
    ("faulty/infinite_loop", ["--timeout-ms", "300", "--fuel", str(10**15)]),
    ("faulty/stack_overflow", []),
    ("faulty/divide_by_zero", []),
    ("faulty/big_memory", []),
    ("faulty/imports_get_state", []),
    ("faulty/start_trap", []),
    ("faulty/panic", []),
    ("faulty/bad_log_range", []),
]
# Runs whose call completes (or that use all the fuel) count the same on both engines;
# after a trap of the plugin's own, neither engine can tell its fuel (see README, Engines).
SAME_FUEL_KINDS = {None, "plugin_error", "out_of_fuel", "trap", "io"}


def run_on(
    cli, monkeypatch: pytest.MonkeyPatch, engine: str, plugin: str, args: list[str]
) -> tuple[dict, dict]:
    monkeypatch.setenv("WASMCLI_ENGINE", engine)
    result = cli("run", str(SAMPLES / f"{plugin}.wasm"), *REPRODUCIBLE, *args, "--json")
    data = result.json()
    data["exit_code"] = result.exit_code
    trace = cli("traces", "show", "--last", "--json").json()
    return data, trace


@needs_both
@pytest.mark.parametrize(
    ("plugin", "args"), RUNS, ids=[f"{p}-{i}" for i, (p, _) in enumerate(RUNS)]
)
def test_same_results_on_both_engines(
    plugin: str, args: list[str], any_engine_cli, monkeypatch
) -> None:
    on_wasmtime, trace_t = run_on(any_engine_cli, monkeypatch, "wasmtime", plugin, args)
    on_wasmer, trace_w = run_on(any_engine_cli, monkeypatch, "wasmer", plugin, args)
    for key in ("output", "return_code", "return_code_name", "exit_code", "success"):
        assert on_wasmer[key] == on_wasmtime[key], key
    kind = (on_wasmtime["error"] or {}).get("kind")
    assert (on_wasmer["error"] or {}).get("kind") == kind
    assert [e["event_type"] for e in trace_w["events"]] == [
        e["event_type"] for e in trace_t["events"]
    ]
    if kind in SAME_FUEL_KINDS:
        assert on_wasmer["fuel_consumed"] == on_wasmtime["fuel_consumed"]


@needs_both
def test_same_fuel_for_every_sample_plugin(any_engine_cli, monkeypatch) -> None:
    """The fuel-equality check over every committed sample that completes its call."""
    checked = []
    for wasm in sorted(SAMPLES.rglob("*.wasm")):
        plugin = str(wasm.relative_to(SAMPLES).with_suffix(""))
        args = ["--input", "some input 123", "--memory-limit-mb", "4", "--timeout-ms", "2000"]
        if "infinite_loop" in plugin:
            args += ["--fuel", "200000"]
        on_wasmtime, _ = run_on(any_engine_cli, monkeypatch, "wasmtime", plugin, args)
        on_wasmer, _ = run_on(any_engine_cli, monkeypatch, "wasmer", plugin, args)
        assert on_wasmer["exit_code"] == on_wasmtime["exit_code"], plugin
        if (on_wasmtime["error"] or {}).get("kind") in SAME_FUEL_KINDS:
            assert on_wasmer["fuel_consumed"] == on_wasmtime["fuel_consumed"], plugin
            checked.append(plugin)
    # The five samples, and the faulty plugins that end their call normally or use all fuel.
    assert {"hello", "counter", "uppercase", "json_fields", "word_freq"} <= set(checked)
    assert {"faulty/grow_loop", "faulty/memory_bomb", "faulty/infinite_loop"} <= set(checked)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="wasmer installs on this Python")
def test_wasmer_on_new_python_fails_with_one_clear_line(any_engine_cli, tmp_path: Path) -> None:
    result = any_engine_cli(
        "run", str(SAMPLES / "hello.wasm"), "--engine", "wasmer", "--input", "x"
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert any("needs Python 3.10 or older" in line for line in lines)
    assert "Traceback" not in result.stderr


@needs_both
def test_same_fuel_from_instantiation_on(any_engine_cli, monkeypatch, wat_file) -> None:
    """Constant expressions, element segments and the start function are charged at
    instantiation by wasmtime; the instrumented module charges the same (see
    wasmcli/wasm/startup.py), so a run reports the same fuel on both engines."""
    from .conftest import plugin_wat

    startup = (
        "(global $g funcref (ref.null func)) (global $at i32 (i32.const 8))"
        " (global i32 (global.get $at)) (table 4 funcref) (func $f) (elem func $f $f)"
        ' (elem (i32.const 0) funcref (ref.func $f)) (data (global.get $at) "abc")'
        " (func $s) (start $s)"
    )
    plain = wat_file(plugin_wat("(i32.const 0)"), "plain")
    costly = wat_file(plugin_wat("(i32.const 0)", extra=startup), "costly")
    fuel = {}
    for engine in ("wasmtime", "wasmer"):
        monkeypatch.setenv("WASMCLI_ENGINE", engine)
        for path in (plain, costly):
            result = any_engine_cli("run", str(path), "--json")
            assert result.exit_code == 0, result.stderr
            fuel[engine, path.stem] = result.json()["fuel_consumed"]
    assert fuel["wasmer", "costly"] == fuel["wasmtime", "costly"]
    # wasmtime: entering the startup function 1, ref.null 1, global.get 1, the element
    # segment 1 + 1 + 1, the data segment 1 + 3, calling the start function 1 + 1.
    assert fuel["wasmtime", "costly"] - fuel["wasmtime", "plain"] == 12
