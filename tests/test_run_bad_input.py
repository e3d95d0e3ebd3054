"""Every bad input of the core issue: a clear one-line error and its documented exit code.

Modules are written inline as WAT so each test shows exactly what the plugin does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import ECHO_WAT, plugin_wat

MEMORY_ONLY = '(module (memory (export "memory") 1))'

# name -> (module source, extra run args, exit code, text the error line must contain)
RECURSION = "(func $rec (param i32) (result i32) (call $rec (i32.add (local.get 0) (i32.const 1))))"
BAD_MODULES: dict[str, tuple[str, list[str], int, str]] = {
    "no_memory": (
        '(module (func (export "process") (param i32 i32 i32 i32) (result i32) i32.const 0))',
        [],
        4,
        "does not export `memory`",
    ),
    "no_process": (MEMORY_ONLY, [], 4, "does not export `process`"),
    "wrong_signature": (
        '(module (memory (export "memory") 1)'
        ' (func (export "process") (param i32) (result i32) i32.const 0))',
        [],
        4,
        "`process` has the wrong signature: (i32) -> (i32), expected (i32, i32, i32, i32) -> (i32)",
    ),
    "imports_get_state": (
        '(module (import "host" "get_state" (func)) (memory (export "memory") 1)'
        ' (func (export "process") (param i32 i32 i32 i32) (result i32) i32.const 0))',
        [],
        4,
        "Failed to instantiate module: import `host::get_state` not found",
    ),
    "big_memory": (
        plugin_wat("i32.const 0", memory='(memory (export "memory") 2048)'),
        [],
        7,
        "Memory limit exceeded: 128 MB > 64 MB",
    ),
    "start_trap": (
        plugin_wat("i32.const 0", extra="(func $start unreachable) (start $start)"),
        [],
        4,
        "the start function trapped",
    ),
    "unreachable": (plugin_wat("unreachable"), [], 8, "unreachable"),
    "divide_by_zero": (
        plugin_wat("(i32.div_s (i32.const 1) (i32.sub (local.get $in_len) (local.get $in_len)))"),
        [],
        8,
        "integer divide by zero",
    ),
    "out_of_bounds_load": (plugin_wat("(i32.load (i32.const 0x7ffffff0))"), [], 8, "out-of-bounds"),
    "infinite_recursion": (
        plugin_wat("(call $rec (i32.const 0))", extra=RECURSION),
        [],
        8,
        "Plugin trapped: call depth limit 1000 exceeded",
    ),
    # Past what the engine's own stack holds, its stack overflow is the backstop.
    "infinite_recursion_past_the_native_stack": (
        plugin_wat("(call $rec (i32.const 0))", extra=RECURSION),
        ["--max-call-depth", "1000000"],
        8,
        "stack overflow",
    ),
    "log_out_of_bounds": (
        plugin_wat("(call $log (i32.const -4096) (i32.const 100)) (i32.const 0)"),
        [],
        8,
        "host.log range 4294963200..4294963300 is outside the plugin's memory (131072 bytes)",
    ),
    "log_invalid_utf8": (
        plugin_wat(
            "(call $log (i32.const 16) (i32.const 3)) (i32.const 0)",
            extra='(data (i32.const 16) "a\\ffb")',
        ),
        [],
        9,
        "Plugin output is not valid UTF-8: log line 1, byte 1",
    ),
    "input_bigger_than_max_memory": (
        plugin_wat("i32.const 0", memory='(memory (export "memory") 1 1)'),
        ["--input", "x" * 70000],
        7,
        "cannot grow: its declared maximum is 1 page (64 KiB)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MODULES))
def test_bad_module(case: str, cli: Callable[..., object], wat_file: Callable[..., Path]) -> None:
    source, args, exit_code, message = BAD_MODULES[case]
    path = wat_file(source, case)
    result = cli("run", str(path), "--input", "hi", *args)
    assert result.exit_code == exit_code, result
    error_lines = [line for line in result.stderr.splitlines() if message in line]
    assert error_lines, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"\x13\x37garbage bytes that are not wasm", "not a WebAssembly module (bad magic bytes)"),
        (b"\0asm\x01\0\0\0\x01\x05\x01\x60", "Failed to compile module"),  # truncated
    ],
    ids=["empty", "random_bytes", "truncated"],
)
def test_unloadable_files(content: bytes, message: str, cli, tmp_path: Path) -> None:
    path = tmp_path / "bad.wasm"
    path.write_bytes(content)
    result = cli("run", str(path), "--input", "x")
    assert result.exit_code == 3, result
    assert message in result.stderr


def test_truncated_real_plugin(cli, tmp_path: Path) -> None:
    from .conftest import SAMPLES

    path = tmp_path / "cut.wasm"
    path.write_bytes((SAMPLES / "hello.wasm").read_bytes()[:60])
    result = cli("run", str(path), "--input", "x")
    assert result.exit_code == 3
    assert "Failed to compile module" in result.stderr


def test_missing_file(cli) -> None:
    result = cli("run", "no/such/plugin.wasm", "--input", "x")
    assert result.exit_code == 3
    assert "Failed to read no/such/plugin.wasm: file not found" in result.stderr


def test_wat_syntax_error(cli, tmp_path: Path) -> None:
    path = tmp_path / "broken.wat"
    path.write_text('(module\n  (func (export "process")\n')
    result = cli("run", str(path))
    assert result.exit_code == 3
    assert (
        f"Failed to parse {path}: expected `(`" in result.stderr
        or "Failed to parse" in result.stderr
    )
    assert "line 3" in result.stderr


def test_unknown_binary_name(cli) -> None:
    result = cli("run", "nosuchplugin", "--input", "x")
    assert result.exit_code == 3
    assert "Failed to get binary: Binary not found: nosuchplugin" in result.stderr


def test_invalid_utf8_input(cli, wat_file) -> None:
    path = wat_file(ECHO_WAT)
    result = cli("run", str(path), "--input-file", "-", input=b"ok \xff\xfe bad")
    assert result.exit_code == 9
    assert "Input is not valid UTF-8: byte 3" in result.stderr


def test_log_flood_hits_output_cap(cli, wat_file) -> None:
    # 20 MB of 1000-byte log lines; the default cap (1 MiB) stops the run.
    flood = plugin_wat(
        """
        (local $i i32)
        (loop $again
          (call $log (i32.const 0) (i32.const 1000))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $again (i32.lt_u (local.get $i) (i32.const 20000))))
        (i32.const 0)""",
        extra='(data (i32.const 0) "' + "x" * 1000 + '")',
    )
    result = cli("run", str(wat_file(flood)), "--json")
    assert result.exit_code == 9
    data = result.json()
    assert data["error"]["kind"] == "io"
    assert "Output exceeds the limit of 1 MiB" in data["error"]["message"]
    assert len(data["output"].encode()) <= 1024 * 1024
    assert len(data["output"].split("\n")) == 1047  # whole lines that fit under the cap


LOOP = plugin_wat("(loop $forever (br $forever)) (i32.const 0)")


@pytest.mark.slow
def test_infinite_loop_stops_at_timeout(cli, wat_file) -> None:
    result = cli(
        "run", str(wat_file(LOOP)), "--timeout-ms", "1000", "--fuel", str(10**15), "--json"
    )
    assert result.exit_code == 5, result
    assert result.json()["error"]["message"] == "Execution timeout"
    # The limit covers the plugin's code, from the moment host.log is registered (right
    # before instantiation) to the failure: within 10% of the limit.
    events = cli("traces", "show", "--last", "--json").json()["events"]
    armed = next(e["timestamp"] for e in events if e["event_type"] == "HostFunctionCall")
    stopped = next(e["timestamp"] for e in events if e["event_type"] == "ExecutionError")
    assert 1000_000 <= stopped - armed <= 1100_000


def test_infinite_loop_stops_on_fuel_when_fuel_is_lower(cli, wat_file) -> None:
    result = cli("run", str(wat_file(LOOP)), "--fuel", "100000", "--json")
    assert result.exit_code == 6
    data = result.json()
    assert data["error"]["kind"] == "out_of_fuel"
    assert data["fuel_consumed"] == 100000


def test_fuel_used_up_in_the_start_function_reports_the_limit(cli, wat_file) -> None:
    """As anywhere else: the run used all its fuel (there is no instance to ask yet)."""
    looping_start = plugin_wat("(i32.const 0)", extra="(func $init (loop (br 0))) (start $init)")
    result = cli("run", str(wat_file(looping_start)), "--fuel", "5000", "--json")
    assert result.exit_code == 6
    data = result.json()
    assert data["error"]["kind"] == "out_of_fuel"
    assert data["fuel_consumed"] == 5000


def test_memory_grow_loop_is_capped(cli, wat_file) -> None:
    # Grows one page at a time until memory.grow fails, then returns the page count.
    grow = plugin_wat(
        """
        (loop $more
          (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (memory.size)"""
    )
    result = cli("run", str(wat_file(grow)), "--memory-limit-mb", "8", "--json")
    # 8 MB = 128 pages; the plugin returns that count as its (unknown) return code.
    assert result.json()["return_code"] == 128
    assert result.exit_code == 1


def test_ambiguous_id_prefix_is_usage_error(cli, tmp_path: Path) -> None:
    from wasmcli.store.blobs import sha256_hex
    from wasmcli.store.registry import Registry, binary_id_for

    from .test_store import other_module

    seen: dict[str, int] = {}
    for n in range(5000):
        prefix = binary_id_for(sha256_hex(other_module(n)))[:4]
        if prefix in seen:
            break
        seen[prefix] = n
    registry = Registry()
    registry.register(other_module(seen[prefix]))
    registry.register(other_module(n))
    result = cli("run", prefix)
    assert result.exit_code == 2
    assert f"Ambiguous binary id prefix '{prefix}'" in result.stderr
