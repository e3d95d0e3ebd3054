"""The instrumented module on wasmer (the engine it is for) gives wasmtime's fuel.

Runs where wasmer imports (its wheels exist for CPython <= 3.10); skipped elsewhere.
Cases use only what wasmer 1.1 compiles; a case it refuses for the original module as
well is skipped, not failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wasmcli.wasm import FUEL_EXPORT, START_EXPORT, instrument_fuel

from .harness import PLUGIN_ENV, PLUGIN_INPUT, run_native, run_plugin, wat
from .progen import generate
from .test_fuel import CASES

wasmer = pytest.importorskip("wasmer")
cranelift = pytest.importorskip("wasmer_compiler_cranelift")

BIG = 10**12


def _store() -> Any:
    return wasmer.Store(wasmer.engine.Universal(cranelift.Compiler))


def _module(store: Any, wasm: bytes) -> Any:
    try:
        return wasmer.Module(store, wasm)
    except Exception as exc:  # wasmer raises plain Exception subclasses for compile errors
        pytest.skip(f"wasmer 1.1 does not compile this module: {str(exc).splitlines()[0]}")


def _run(wasm: bytes, func: str, args: tuple[Any, ...], fuel: int = BIG) -> tuple[Any, int]:
    store = _store()
    _module(store, wasm)  # skips when wasmer cannot compile even the original
    module = _module(store, instrument_fuel(wasm))
    imports = wasmer.ImportObject()
    if any(i.module == "host" for i in module.imports):
        log = wasmer.Function(
            store,
            lambda ptr, length: None,
            wasmer.FunctionType([wasmer.Type.I32, wasmer.Type.I32], []),
        )
        imports.register("host", {"log": log})
    instance = wasmer.Instance(module, imports)
    counter = getattr(instance.exports, FUEL_EXPORT)
    counter.value = fuel
    result = getattr(instance.exports, func)(*args)
    return result, fuel - counter.value


WASMER_CASES = [
    (name, args)
    for name, (_, arg_list) in CASES.items()
    for args in arg_list
    # Proposals wasmer 1.1 predates.
    if name not in {"tail_calls", "memory64_and_multi_memory", "function_references", "atomics"}
]


@pytest.mark.parametrize(("name", "args"), WASMER_CASES)
def test_case_same_fuel_on_wasmer(name: str, args: tuple[Any, ...]) -> None:
    wasm = wat(CASES[name][0])
    native = run_native(wasm, "f", args)
    assert native.trap is None
    result, fuel = _run(wasm, "f", args)
    expected = native.result
    if isinstance(expected, list):
        expected = list(expected)
        result = list(result)
    assert result == expected
    assert fuel == native.fuel


@pytest.mark.parametrize("seed", range(0, 150, 10))
def test_random_program_same_fuel_on_wasmer(seed: int) -> None:
    wasm = wat(generate(seed))
    for x in (0, 77):
        native = run_native(wasm, "f", (x,))
        assert _run(wasm, "f", (x,)) == (native.result, native.fuel)


def test_out_of_fuel_on_wasmer() -> None:
    wasm = wat('(module (func (export "f") (loop $l (br $l))))')
    store = _store()
    instance = wasmer.Instance(_module(store, instrument_fuel(wasm)))
    counter = getattr(instance.exports, FUEL_EXPORT)
    counter.value = 1000
    with pytest.raises(RuntimeError, match="unreachable"):
        instance.exports.f()
    assert counter.value < 0


SAMPLES = Path(__file__).resolve().parents[2] / "sample_plugins"


@pytest.mark.parametrize(
    "name", ["hello.wasm", "counter.wasm", "json_fields.wasm", "word_freq.wasm", "uppercase.wasm"]
)
def test_sample_plugin_on_wasmer(name: str) -> None:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{name} is not in sample_plugins")
    wasm = path.read_bytes()
    native = run_plugin(wasm, metered=False)
    assert native.outcome.trap is None

    store = _store()
    module = _module(store, instrument_fuel(wasm))
    logs: list[bytes] = []
    memory: list[Any] = []

    def log(ptr: int, length: int) -> None:
        logs.append(bytes(memory[0].uint8_view()[ptr : ptr + length]))

    imports = wasmer.ImportObject()
    imports.register(
        "host",
        {
            "log": wasmer.Function(
                store, log, wasmer.FunctionType([wasmer.Type.I32, wasmer.Type.I32], [])
            )
        },
    )
    instance = wasmer.Instance(module, imports)
    exports = instance.exports
    memory.append(exports.memory)
    counter = getattr(exports, FUEL_EXPORT)
    counter.value = BIG
    names = {export.name for export in module.exports}
    if START_EXPORT in names:
        getattr(exports, START_EXPORT)()
    if "alloc" in names:
        input_ptr = exports.alloc(len(PLUGIN_INPUT))
        env_ptr = exports.alloc(len(PLUGIN_ENV))
    else:
        input_ptr = exports.memory.grow(1) * 65536
        env_ptr = input_ptr + len(PLUGIN_INPUT)
    view = exports.memory.uint8_view()
    view[input_ptr : input_ptr + len(PLUGIN_INPUT)] = PLUGIN_INPUT
    view[env_ptr : env_ptr + len(PLUGIN_ENV)] = PLUGIN_ENV
    counter.value = BIG
    result = exports.process(input_ptr, len(PLUGIN_INPUT), env_ptr, len(PLUGIN_ENV))
    assert result == native.outcome.result
    assert logs == native.logs
    assert BIG - counter.value == native.outcome.fuel
