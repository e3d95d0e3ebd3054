"""The engines as a library program uses them (`wasmcli.engines`), on every engine here.

`wasmcli run` checks the plugin ABI before an engine instantiates anything; a program
that drives an engine itself gets no such check. Whatever it hands the engine, every
failure is still a WasmcliError of the documented kind, in the same words on both
engines, never an engine's exception. And what a daemon preloads from the cache is
what a later load hands out.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from wasmcli.engines import Engine, EngineLimits, available_engines, load_engine
from wasmcli.engines import base as engine_base
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.cache import ArtifactCache
from wasmcli.wasm.wat import wat_to_wasm

from .conftest import plugin_wat

LIMITS = EngineLimits(fuel=10**9, timeout_ms=10_000, memory_limit_bytes=16 << 20)

PROCESS = '(func (export "process") (param i32 i32 i32 i32) (result i32) {body})'
NO_MEMORY = f"(module {PROCESS.format(body='(i32.const 0)')})"
LOG = '(import "host" "log" (func $log (param i32 i32)))'
LOG_WITHOUT_MEMORY = (
    f"(module {LOG} {PROCESS.format(body='(call $log (i32.const 0) (i32.const 1)) (i32.const 0)')})"
)
LOG_AT_START_WITHOUT_MEMORY = (
    f"(module {LOG} (func $init (call $log (i32.const 0) (i32.const 1))) (start $init) "
    f"{PROCESS.format(body='(i32.const 0)')})"
)


class Lines:
    """A host.log that keeps the lines, with room for all of them."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def check_room(self, size: int) -> None:
        pass

    def __call__(self, raw: bytes) -> None:
        self.lines.append(raw)


def on_each_engine(check: Callable[..., None]) -> Callable[..., None]:
    """A test of `check(engine, *args)` on every engine here. wasmer's compiler leaves
    threads that a process forked later (wasmer's isolation child, in the tests after
    these) would inherit stuck: on wasmer, `check` runs in a process of its own."""

    @pytest.mark.parametrize("engine_name", available_engines())
    def test(engine_name: str, tmp_path: Path) -> None:
        if engine_name == "wasmtime":
            check(load_engine(engine_name), tmp_path)
            return
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=spawn) as pool:
            pool.submit(_in_child, check.__name__, engine_name, tmp_path).result()

    test.__name__ = check.__name__.replace("check_", "test_", 1)
    test.__doc__ = check.__doc__
    return test


def _in_child(check_name: str, engine_name: str, tmp_path: Path) -> None:
    globals()[check_name](load_engine(engine_name), tmp_path)


def _failure(call: Callable[..., object], *args: object) -> WasmcliError:
    try:
        call(*args)
    except WasmcliError as error:
        return error
    raise AssertionError(f"{call.__name__}{args} did not fail")


def check_a_module_without_memory_or_the_function_asked_for_is_an_abi_error(
    adapter: Engine, tmp_path: Path
) -> None:
    instance = adapter.instantiate(
        adapter.load(wat_to_wasm(NO_MEMORY), LIMITS, None), LIMITS, Lines()
    )
    try:
        assert instance.has_function("process") and not instance.has_function("alloc")
        for read in (instance.memory_pages, instance.memory_max_pages):
            error = _failure(read)
            assert (error.kind, error.message) == (
                ErrorKind.ABI,
                "the module does not export `memory`",
            ), error
        error = _failure(instance.call, "alloc", 1)
        assert (error.kind, error.message) == (
            ErrorKind.ABI,
            "the module does not export a function `alloc`",
        ), error
        assert instance.call("process", 0, 0, 0, 0) == 0  # the instance still works
    finally:
        instance.close()


def check_host_log_without_a_memory_is_the_plugins_fault(adapter: Engine, tmp_path: Path) -> None:
    log = Lines()
    instance = adapter.instantiate(
        adapter.load(wat_to_wasm(LOG_WITHOUT_MEMORY), LIMITS, None), LIMITS, log
    )
    try:
        error = _failure(instance.call, "process", 0, 0, 0, 0)
    finally:
        instance.close()
    words = "host.log called but the plugin exports no memory"
    assert (error.kind, error.message, error.trap) == (ErrorKind.TRAP, words, words), error
    assert log.lines == []
    # In a start function, it means the module could not be set up (exit 4).
    loaded = adapter.load(wat_to_wasm(LOG_AT_START_WITHOUT_MEMORY), LIMITS, None)
    error = _failure(adapter.instantiate, loaded, LIMITS, log)
    assert (error.kind, error.message, error.trap) == (
        ErrorKind.ABI,
        f"Failed to instantiate module: the start function trapped: {words}",
        words,
    ), error


def check_a_module_compiled_without_wasmcli_code_is_never_run(
    adapter: Engine, tmp_path: Path
) -> None:
    wasm = wat_to_wasm(plugin_wat("(i32.const 0)"))
    # One compiled for another call-depth limit is refused as stale.
    other_depth = adapter.load(wasm, replace(LIMITS, max_call_depth=7), None)
    error = _failure(adapter.instantiate, other_depth, LIMITS, Lines())
    assert error.kind is ErrorKind.INTERNAL, error
    assert "counts call depth to 7, not 1000" in error.message, error
    # A foreign compiled module: no pass ran, so none of the globals the host reads exist.
    adapter.passes = lambda limits: ()  # type: ignore[method-assign]
    foreign = adapter.load(wasm, LIMITS, None)
    error = _failure(adapter.instantiate, foreign, LIMITS, Lines())
    assert error.kind is ErrorKind.INTERNAL, error
    assert error.message.startswith("the compiled module lacks wasmcli's instrumentation ("), error


def check_preload_keeps_what_the_cache_holds_and_compiles_nothing(
    adapter: Engine, tmp_path: Path
) -> None:
    cache = ArtifactCache(tmp_path, f"{adapter.name}-{adapter.version}")
    wasm = wat_to_wasm(plugin_wat("(i32.const 0)"))
    try:
        assert adapter.preload(wasm, LIMITS, cache) is False  # nothing cached, nothing compiled
        assert not cache.root.exists() or not any(cache.root.iterdir())
        assert adapter.load(wasm, LIMITS, cache).from_cache is False  # compiled and cached
        assert adapter.preload(wasm, LIMITS, cache) is True
        assert adapter.preload(wasm, LIMITS, cache) is True  # already there
        for artifact in cache.root.iterdir():
            artifact.unlink()
        # The cache is empty now: the module comes from the daemon's memory, and runs.
        loaded = adapter.load(wasm, LIMITS, cache)
        assert loaded.from_cache is True and loaded.source == wasm
        instance = adapter.instantiate(loaded, LIMITS, Lines())
        try:
            assert instance.call("process", 0, 0, 0, 0) == 0
        finally:
            instance.close()
        # Under another memory cap it is another compiled module: not the preloaded one.
        other_cap = replace(LIMITS, memory_limit_bytes=8 << 20)
        assert adapter.load(wasm, other_cap, cache).from_cache is False
        assert adapter.load(wat_to_wasm(NO_MEMORY), LIMITS, cache).from_cache is False
    finally:
        engine_base._PRELOADED.clear()  # a daemon's memory; this test's only


test_a_module_without_memory_or_the_function_asked_for_is_an_abi_error = on_each_engine(
    check_a_module_without_memory_or_the_function_asked_for_is_an_abi_error
)
test_host_log_without_a_memory_is_the_plugins_fault = on_each_engine(
    check_host_log_without_a_memory_is_the_plugins_fault
)
test_a_module_compiled_without_wasmcli_code_is_never_run = on_each_engine(
    check_a_module_compiled_without_wasmcli_code_is_never_run
)
test_preload_keeps_what_the_cache_holds_and_compiles_nothing = on_each_engine(
    check_preload_keeps_what_the_cache_holds_and_compiles_nothing
)


def check_host_reads_and_writes_stay_inside_the_memory(adapter: Engine, tmp_path: Path) -> None:
    wasm = wat_to_wasm(plugin_wat("(i32.const 0)"))  # one page: 65,536 bytes
    instance = adapter.instantiate(adapter.load(wasm, LIMITS, None), LIMITS, Lines())
    try:
        instance.write_memory(65526, b"0123456789")  # up to the last byte
        assert instance.read_memory(65526, 10) == b"0123456789"
        for call, args, words in [
            (instance.write_memory, (65527, b"0123456789"), "65527..65537"),
            (instance.read_memory, (65527, 10), "65527..65537"),
            (instance.read_memory, (-1, 4), "-1..3"),
            (instance.read_memory, (4, -2), "4..2"),
        ]:
            error = _failure(call, *args)
            assert (error.kind, error.message) == (
                ErrorKind.TRAP,
                f"memory range {words} is outside the plugin's memory (65536 bytes)",
            ), error
    finally:
        instance.close()


def check_a_module_the_engine_cannot_compile_is_a_load_error(
    adapter: Engine, tmp_path: Path
) -> None:
    # `process` returns an i64 where it declares an i32.
    wasm = wat_to_wasm(plugin_wat("(i32.const 0)")).replace(b"\x41\x00\x0b", b"\x42\x00\x0b")
    error = _failure(adapter.load, wasm, LIMITS, None)
    assert (error.kind, error.stage) == (ErrorKind.LOAD, "load"), error
    assert error.message.startswith("Failed to compile module: "), error


test_host_reads_and_writes_stay_inside_the_memory = on_each_engine(
    check_host_reads_and_writes_stay_inside_the_memory
)
test_a_module_the_engine_cannot_compile_is_a_load_error = on_each_engine(
    check_a_module_the_engine_cannot_compile_is_a_load_error
)


def check_compiling_refuses_what_a_pass_refuses(adapter: Engine, tmp_path: Path) -> None:
    # 300 pages: 18.75 MB, above LIMITS' 16 MB, refused before any engine sees it.
    big = wat_to_wasm('(module (memory (export "memory") 300))')
    for step in (adapter.load, adapter.compile):
        args = (big, LIMITS, None) if step == adapter.load else (big, LIMITS)
        error = _failure(step, *args)
        assert (error.kind, error.stage, error.message) == (
            ErrorKind.MEMORY_LIMIT,
            "abi_check",
            "Memory limit exceeded: 18.75 MB > 16 MB",
        ), error
    # A table with an initializer expression: wasmtime validates it, the memory pass
    # cannot read it (and wasmer's validator refuses it first).
    table = wat_to_wasm('(module (memory (export "memory") 1) (table 1 funcref (ref.null func)))')
    error = _failure(adapter.compile, table, LIMITS)
    assert error.kind is ErrorKind.LOAD and error.message.startswith("Failed to compile module: ")
    if adapter.name == "wasmtime":
        assert error.message.endswith(
            "table at byte 0xb has an initializer expression (function references), "
            "which wasmcli does not run"
        ), error


def check_a_batch_keeps_its_eight_latest_modules_in_memory(adapter: Engine, tmp_path: Path) -> None:
    cache = ArtifactCache(tmp_path, f"{adapter.name}-{adapter.version}")
    plugins = [wat_to_wasm(plugin_wat(f"(i32.const {n})")) for n in range(9)]

    def emptied() -> ArtifactCache:
        for artifact in cache.root.iterdir():
            artifact.unlink()
        return cache

    try:
        for wasm in plugins:
            assert adapter.load(wasm, LIMITS, cache, keep=True).from_cache is False
        # The cache emptied: the eight latest come from memory, the first was let go.
        assert all(adapter.load(w, LIMITS, emptied(), keep=True).from_cache for w in plugins[1:])
        assert adapter.load(plugins[0], LIMITS, emptied(), keep=True).from_cache is False
        # A single run (keep=False) keeps nothing.
        single = wat_to_wasm(plugin_wat("(i32.const 99)"))
        assert adapter.load(single, LIMITS, emptied()).from_cache is False
        assert adapter.load(single, LIMITS, emptied()).from_cache is False
    finally:
        engine_base._LOADED.clear()


test_compiling_refuses_what_a_pass_refuses = on_each_engine(
    check_compiling_refuses_what_a_pass_refuses
)
test_a_batch_keeps_its_eight_latest_modules_in_memory = on_each_engine(
    check_a_batch_keeps_its_eight_latest_modules_in_memory
)
