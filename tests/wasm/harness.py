"""Run a module on wasmtime with native fuel, and its instrumented copy without it.

The fuel tests compare the two: same results, same fuel. wasmtime is a test-time
dependency only; `wasmcli.wasm` itself never imports an engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import wasmtime

from wasmcli.wasm import FUEL_EXPORT, START_EXPORT, instrument_fuel
from wasmcli.wasm.leb128 import encode_u

BIG = 10**12


def wat(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def engine(consume_fuel: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = consume_fuel
    config.wasm_memory64 = True
    config.wasm_multi_memory = True
    config.wasm_tail_call = True
    config.wasm_threads = True
    config.wasm_function_references = True
    config.wasm_relaxed_simd = True
    config.shared_memory = True
    return wasmtime.Engine(config)


def module_with_code(bodies: list[bytes]) -> bytes:
    """A module of `() -> ()` functions with these raw bodies (locals + code)."""

    def section(section_id: int, payload: bytes) -> bytes:
        return bytes((section_id,)) + encode_u(len(payload)) + payload

    code = b"".join(encode_u(len(b)) + b for b in bodies)
    return b"".join(
        [
            b"\x00asm\x01\x00\x00\x00",
            section(1, b"\x01\x60\x00\x00"),
            section(3, encode_u(len(bodies)) + b"\x00" * len(bodies)),
            section(10, encode_u(len(bodies)) + code),
        ]
    )


def validates(wasm: bytes) -> bool:
    try:
        wasmtime.Module.validate(engine(False), wasm)
    except wasmtime.WasmtimeError:
        return False
    return True


HostFunc = Callable[..., Any]


def _imports(
    store: wasmtime.Store, module: wasmtime.Module, host: dict[str, HostFunc]
) -> list[Any]:
    """Every imported function: from `host` by "module.name", else one returning zeros."""
    out: list[Any] = []
    for imp in module.imports:
        ty = imp.type
        assert isinstance(ty, wasmtime.FuncType), f"test harness cannot provide {imp.name}"
        impl = host.get(f"{imp.module}.{imp.name}")
        if impl is None:
            results = ty.results

            def impl(*_args: Any, _results: Sequence[Any] = results) -> Any:
                if not _results:
                    return None
                zeros = [0] * len(_results)
                return zeros[0] if len(zeros) == 1 else zeros

        out.append(wasmtime.Func(store, ty, impl))
    return out


@dataclass
class Outcome:
    fuel: int  # consumed
    result: Any
    trap: wasmtime.Trap | None
    remaining: int


def run_native(
    wasm: bytes,
    func: str,
    args: Sequence[Any] = (),
    fuel: int = BIG,
    host: dict[str, HostFunc] | None = None,
    prepare: Callable[[wasmtime.Store, wasmtime.Instance], tuple[Any, ...]] | None = None,
) -> Outcome:
    """Instantiate and call on wasmtime with native fuel; fuel excludes instantiation."""
    store = wasmtime.Store(engine(True))
    store.set_fuel(BIG)
    module = wasmtime.Module(store.engine, wasm)
    instance = wasmtime.Instance(store, module, _imports(store, module, host or {}))
    if prepare is not None:
        args = prepare(store, instance)
    store.set_fuel(fuel)
    trap = None
    result = None
    try:
        result = instance.exports(store)[func](store, *args)
    except wasmtime.Trap as exc:
        trap = exc
    remaining = store.get_fuel()
    return Outcome(fuel - remaining, result, trap, remaining)


def run_metered(
    instrumented: bytes,
    func: str,
    args: Sequence[Any] = (),
    fuel: int = BIG,
    host: dict[str, HostFunc] | None = None,
    prepare: Callable[[wasmtime.Store, wasmtime.Instance], tuple[Any, ...]] | None = None,
) -> Outcome:
    """Call an instrumented module on wasmtime without native fuel."""
    store = wasmtime.Store(engine(False))
    module = wasmtime.Module(store.engine, instrumented)
    instance = wasmtime.Instance(store, module, _imports(store, module, host or {}))
    exports = instance.exports(store)
    counter = exports[FUEL_EXPORT]
    assert isinstance(counter, wasmtime.Global)
    if START_EXPORT in exports:
        counter.set_value(store, wasmtime.Val.i64(BIG))
        exports[START_EXPORT](store)
    if prepare is not None:
        args = prepare(store, instance)
    counter.set_value(store, wasmtime.Val.i64(fuel))
    trap = None
    result = None
    try:
        result = exports[func](store, *args)
    except wasmtime.Trap as exc:
        trap = exc
    remaining = counter.value(store)
    assert isinstance(remaining, int)
    return Outcome(fuel - remaining, result, trap, remaining)


def compare(
    wasm: bytes,
    func: str = "f",
    args: Sequence[Any] = (),
    host: dict[str, HostFunc] | None = None,
    prepare: Callable[[wasmtime.Store, wasmtime.Instance], tuple[Any, ...]] | None = None,
) -> tuple[Outcome, Outcome]:
    """Run original and instrumented; both must complete."""
    instrumented = instrument_fuel(wasm)
    native = run_native(wasm, func, args, host=host, prepare=prepare)
    metered = run_metered(instrumented, func, args, host=host, prepare=prepare)
    assert native.trap is None, native.trap
    assert metered.trap is None, metered.trap
    return native, metered


# -- plugins ------------------------------------------------------------------------------

PLUGIN_INPUT = b"hello world 123"
PLUGIN_ENV = b'{"timestamp": 1, "random_seed": 2}'


@dataclass
class PluginRun:
    outcome: Outcome
    logs: list[bytes]
    start_fuel: int  # fuel of instantiation (native) or of __wasmcli_start (metered)


def _place(store: wasmtime.Store, instance: wasmtime.Instance) -> tuple[int, int, int, int]:
    """Write input and env as the host does (docs/design.md section 1)."""
    exports = instance.exports(store)
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    if "alloc" in exports:
        input_ptr = exports["alloc"](store, len(PLUGIN_INPUT))
        env_ptr = exports["alloc"](store, len(PLUGIN_ENV))
    else:
        old = memory.grow(store, 1) if _can_grow(store, memory) else None
        input_ptr = 0 if old is None else old * 65536
        env_ptr = input_ptr + len(PLUGIN_INPUT)
    memory.write(store, PLUGIN_INPUT, input_ptr)
    memory.write(store, PLUGIN_ENV, env_ptr)
    return input_ptr, len(PLUGIN_INPUT), env_ptr, len(PLUGIN_ENV)


def _can_grow(store: wasmtime.Store, memory: wasmtime.Memory) -> bool:
    maximum = memory.type(store).limits.max
    return maximum is None or memory.size(store) < maximum


def _log_host(store: wasmtime.Store, logs: list[bytes]) -> wasmtime.Func:
    def log(caller: wasmtime.Caller, ptr: int, length: int) -> None:
        memory = caller["memory"]
        assert isinstance(memory, wasmtime.Memory)
        logs.append(bytes(memory.read(caller, ptr, ptr + length)))

    ty = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
    return wasmtime.Func(store, ty, log, access_caller=True)


def run_plugin(wasm: bytes, metered: bool, fuel: int = BIG) -> PluginRun:
    """Instantiate a plugin, place input and env, call process under `fuel`."""
    logs: list[bytes] = []
    store = wasmtime.Store(engine(not metered))
    if not metered:
        store.set_fuel(BIG)
    module = wasmtime.Module(store.engine, wasm)
    imports: list[Any] = []
    for imp in module.imports:
        assert (imp.module, imp.name) == ("host", "log"), f"unexpected import {imp.name}"
        imports.append(_log_host(store, logs))
    instance = wasmtime.Instance(store, module, imports)
    exports = instance.exports(store)
    if metered:
        counter = exports[FUEL_EXPORT]
        assert isinstance(counter, wasmtime.Global)
        counter.set_value(store, wasmtime.Val.i64(BIG))
        if START_EXPORT in exports:
            exports[START_EXPORT](store)
        start_fuel = BIG - counter.value(store)
    else:
        start_fuel = BIG - store.get_fuel()
    args = _place(store, instance)
    if metered:
        counter.set_value(store, wasmtime.Val.i64(fuel))
    else:
        store.set_fuel(fuel)
    trap = None
    result = None
    try:
        result = exports["process"](store, *args)
    except wasmtime.Trap as exc:
        trap = exc
    remaining = counter.value(store) if metered else store.get_fuel()
    assert isinstance(remaining, int)
    return PluginRun(Outcome(fuel - remaining, result, trap, remaining), logs, start_fuel)
