"""Fuel from instantiation on: the start wrapper charges what wasmtime's startup charges.

Each module is instantiated on wasmtime with native fuel and, instrumented, without it;
the fuel wasmtime charged for instantiating it must equal what `__wasmcli_start` charges.
The cases cover every rule in `wasmcli/wasm/startup.py`, its quirks included.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

from wasmcli.wasm import (
    FUEL_EXPORT,
    START_EXPORT,
    WasmFormatError,
    instrument_fuel,
    read_module_info,
)

from .harness import BIG, engine, wat

I32 = wasmtime.ValType.i32()
CASES = {
    "nothing": "(module (memory 1) (global i32 (i32.const 1)) (global f64 (f64.const 2)))",
    "ref.null global": "(module (global funcref (ref.null func)))",
    "two globals": "(module (global funcref (ref.null func)) (global externref (ref.null extern)))",
    "extended const": "(module (global i32 (i32.add (i32.mul (i32.const 2) (i32.const 3))"
    " (i32.const 4))))",
    "imported global": '(module (import "a" "g" (global i32)) (global i32 (global.get 0)))',
    "ref.func global": "(module (func $f) (global funcref (ref.func $f)))",
    "start": "(module (func $s (drop (i32.const 1))) (start $s))",
    "start and constants": "(module (global i64 (i64.sub (i64.const 1) (i64.const 2)))"
    " (func $s) (start $s))",
    "passive element segments": "(module (func $f) (elem func $f $f)"
    " (elem funcref (ref.func $f) (ref.null func)))",
    "declarative segment": "(module (func $f) (elem declare func $f))",
    "precomputed segments": "(module (table 4 funcref) (func $f) (elem (i32.const 0) $f $f))",
    "expression segment": "(module (table 9 funcref) (func $f)"
    " (elem (i32.const 0) funcref (ref.func $f) (ref.null func)))",
    "segments after one not precomputed": "(module (table 9 funcref) (func $f)"
    " (elem (i32.const 0) $f) (elem (i32.const 1) funcref (ref.null func))"
    " (elem (i32.const 2) $f $f $f))",
    "segment into an imported table": '(module (import "a" "t" (table 4 funcref)) (func $f)'
    " (elem (i32.const 1) $f $f))",
    "segment at a global offset": '(module (import "a" "g" (global i32)) (table 9 funcref)'
    " (func $f) (elem (global.get 0) $f))",
    "table initialiser": "(module (table 7 funcref (ref.null func)))",
    "ref.func table initialiser": "(module (func $f) (table 7 funcref (ref.func $f)))",
    "data in the image": '(module (memory 1) (data (i32.const 9) "abc"))',
    "data into an imported memory": '(module (import "a" "m" (memory 1))'
    ' (data (i32.const 9) "abcdef") (data (i32.const 90) ""))',
    "data at a global offset": '(module (import "a" "g" (global i32)) (memory 1)'
    ' (data (global.get 0) "abc") (data (i32.const 100) "abcd"))',
    "image beside an imported memory": '(module (import "a" "m" (memory 1)) (memory 2)'
    ' (data (memory 1) (i32.const 10) "ab") (data (memory 1) (i32.const 70000) "cd"))',
    "image and a memory without one": "(module (memory 1) (memory 1)"
    ' (data (memory 1) (i32.const 0) "abc"))',
    "image drops the other charges": '(module (memory 1) (data (i32.const 0) "abc")'
    " (global funcref (ref.null func)) (func $s) (start $s))",
    "images in every memory": "(module (memory 1) (memory 1) (data (memory 0) (i32.const 0)"
    ' "a") (data (memory 1) (i32.const 0) "b"))',
    "empty segment": '(module (memory 1) (data (i32.const 0) "")'
    " (global i32 (i32.add (i32.const 1) (i32.const 2))))",
}


def _imports(store: wasmtime.Store, module: wasmtime.Module) -> list[Any]:
    out: list[Any] = []
    for imp in module.imports:
        ty = imp.type
        if isinstance(ty, wasmtime.MemoryType):
            out.append(wasmtime.Memory(store, ty))
        elif isinstance(ty, wasmtime.TableType):
            out.append(wasmtime.Table(store, ty, None))
        else:
            assert isinstance(ty, wasmtime.GlobalType)
            out.append(wasmtime.Global(store, ty, wasmtime.Val.i32(5)))
    return out


def instantiation_fuel(wasm: bytes) -> int:
    store = wasmtime.Store(engine(True))
    store.set_fuel(BIG)
    module = wasmtime.Module(store.engine, wasm)
    wasmtime.Instance(store, module, _imports(store, module))
    return BIG - store.get_fuel()


def wrapper_fuel(instrumented: bytes) -> int:
    store = wasmtime.Store(engine(False))
    module = wasmtime.Module(store.engine, instrumented)
    exports = wasmtime.Instance(store, module, _imports(store, module)).exports(store)
    counter = exports[FUEL_EXPORT]
    assert isinstance(counter, wasmtime.Global)
    counter.set_value(store, wasmtime.Val.i64(BIG))
    if START_EXPORT not in exports:
        return 0
    start = exports[START_EXPORT]
    assert isinstance(start, wasmtime.Func)
    start(store)
    remaining = counter.value(store)
    assert isinstance(remaining, int)
    return BIG - remaining


@pytest.mark.parametrize("name", CASES)
def test_instantiation_costs_what_wasmtime_charges(name: str) -> None:
    wasm = wat(CASES[name])
    assert wrapper_fuel(instrument_fuel(wasm)) == instantiation_fuel(wasm)


def test_the_cases_charge_something() -> None:
    # Guards the test above against comparing zeros: most cases do cost fuel.
    charged = [name for name in CASES if instantiation_fuel(wat(CASES[name]))]
    assert len(charged) >= len(CASES) - 6


def test_a_wrapper_without_a_start_function_gets_an_empty_function_type() -> None:
    wasm = wat("(module (type (func (param i32))) (global funcref (ref.null func)))")
    instrumented = instrument_fuel(wasm)
    info = read_module_info(instrumented)
    start = info.export(START_EXPORT)
    assert start is not None and str(start.signature) == "() -> ()"
    assert read_module_info(wasm).start is None and info.start is None


GC_TABLE = "(module (table 2 i31ref (ref.i31 (i32.const 1))))"
GC_GLOBAL = "(module (global (ref i31) (ref.i31 (i32.const 7))))"


@pytest.mark.parametrize("text", [GC_TABLE, GC_GLOBAL])
def test_gc_constant_expressions_are_read_and_refused_by_the_fuel_pass(text: str) -> None:
    wasm = wat(text)
    read_module_info(wasm)  # the reader describes GC modules
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(wasm)
    assert str(info.value) == (
        "unsupported instruction ref.i31 (GC proposal) in a constant expression: "
        "fuel metering does not support it"
    )
