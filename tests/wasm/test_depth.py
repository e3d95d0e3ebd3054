"""CallDepth: the call-depth limit, counted in the module, and what it costs in fuel.

Each case runs on wasmtime: the original with native fuel (the reference), the module
through the depth pass with native fuel (what wasmtime compiles), and the module through
the passes wasmer compiles (the memory cap, the depth pass, the fuel pass last) without
native fuel. Results must not change; the fuel counted less what the depth code refunded
must be the reference's; every call must give back the frames it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import wasmtime

from wasmcli.wasm import (
    DEPTH_EXCEEDED,
    DEPTH_EXPORT,
    FUEL_EXPORT,
    OVERHEAD_EXPORT,
    START_EXPORT,
    CallDepth,
    Fuel,
    ResourceLimit,
    WasmFormatError,
    apply_passes,
    cache_key_parts,
    read_module_info,
)

from .harness import BIG, _imports, engine, run_native, validates, wat
from .progen import generate
from .test_fuel import CASES

SAMPLES_LIMIT = 1000
ANY_CAP = 1 << 80  # a memory cap that changes no declared maximum


def through_depth(wasm: bytes, limit: int = SAMPLES_LIMIT) -> bytes:
    """What wasmtime compiles (the memory cap aside)."""
    return apply_passes(wasm, [CallDepth(limit)]).wasm


def as_wasmer_compiles(wasm: bytes, limit: int = SAMPLES_LIMIT) -> bytes:
    return apply_passes(wasm, [ResourceLimit(ANY_CAP), CallDepth(limit), Fuel()]).wasm


@dataclass
class Run:
    result: Any
    trap: wasmtime.Trap | None
    own_fuel: int  # what was counted, less the depth code's refund
    frames_left: int  # the depth global after the call


def run(rewritten: bytes, func: str, args: tuple[Any, ...], *, metered: bool) -> Run:
    """Instantiate `rewritten`, then call `func`; instantiation's fuel is not counted."""
    store = wasmtime.Store(engine(not metered))
    if not metered:
        store.set_fuel(BIG)
    module = wasmtime.Module(store.engine, rewritten)
    instance = wasmtime.Instance(store, module, _imports(store, module, {}))
    exports = instance.exports(store)

    def global_(name: str) -> wasmtime.Global:
        found = exports[name]
        assert isinstance(found, wasmtime.Global)
        return found

    if metered:
        global_(FUEL_EXPORT).set_value(store, wasmtime.Val.i64(BIG))
        if START_EXPORT in exports:
            exports[START_EXPORT](store)
        global_(FUEL_EXPORT).set_value(store, wasmtime.Val.i64(BIG))
    else:
        store.set_fuel(BIG)
    global_(OVERHEAD_EXPORT).set_value(store, wasmtime.Val.i64(0))
    trap = None
    result = None
    try:
        result = exports[func](store, *args)
    except wasmtime.Trap as exc:
        trap = exc
    counted = BIG - (global_(FUEL_EXPORT).value(store) if metered else store.get_fuel())
    refunded = global_(OVERHEAD_EXPORT).value(store)
    assert isinstance(counted, int) and isinstance(refunded, int)
    frames_left = global_(DEPTH_EXPORT).value(store)
    assert isinstance(frames_left, int)
    return Run(result, trap, counted - refunded, frames_left)


def assert_same_as_reference(wasm: bytes, func: str, args: tuple[Any, ...]) -> None:
    reference = run_native(wasm, func, args)
    assert reference.trap is None, reference.trap
    for rewritten, metered in ((through_depth(wasm), False), (as_wasmer_compiles(wasm), True)):
        got = run(rewritten, func, args, metered=metered)
        assert got.trap is None, got.trap
        expected = reference.result
        result = got.result
        if isinstance(expected, list):
            expected, result = list(expected), list(result)
        assert result == expected
        assert got.own_fuel == reference.fuel
        assert got.frames_left == SAMPLES_LIMIT  # every frame given back


@pytest.mark.parametrize(
    ("name", "args"),
    [(name, args) for name, (_, arg_list) in CASES.items() for args in arg_list],
)
def test_same_results_and_fuel_as_the_original(name: str, args: tuple[Any, ...]) -> None:
    assert_same_as_reference(wat(CASES[name][0]), "f", args)


@pytest.mark.parametrize("seed", range(0, 60, 3))
def test_random_programs_same_results_and_fuel(seed: int) -> None:
    wasm = wat(generate(seed))
    for x in (0, 9):
        assert_same_as_reference(wasm, "f", (x,))


@pytest.mark.parametrize("name", list(CASES))
def test_rewritten_modules_validate(name: str) -> None:
    wasm = wat(CASES[name][0])
    assert validates(through_depth(wasm))
    assert validates(as_wasmer_compiles(wasm))


# -- the limit ---------------------------------------------------------------------------------

# f(n) recurses n deep: n + 1 frames of f.
DIRECT = """(module (func $down (export "f") (param i32) (result i32)
  (if (result i32) (local.get 0)
    (then (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))
    (else (i32.const 0)))))"""
INDIRECT = """(module (type $t (func (param i32) (result i32)))
  (table 1 funcref) (elem (i32.const 0) $down)
  (func $down (export "f") (type $t)
    (if (result i32) (local.get 0)
      (then (i32.add (i32.const 1)
              (call_indirect (type $t) (i32.sub (local.get 0) (i32.const 1)) (i32.const 0))))
      (else (i32.const 0)))))"""
MUTUAL = """(module
  (func $even (export "f") (param i32) (result i32)
    (if (result i32) (local.get 0) (then (call $odd (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 1))))
  (func $odd (param i32) (result i32)
    (if (result i32) (local.get 0) (then (call $even (i32.sub (local.get 0) (i32.const 1))))
      (else (i32.const 0)))))"""


@pytest.mark.parametrize("text", [DIRECT, INDIRECT, MUTUAL], ids=["call", "indirect", "mutual"])
@pytest.mark.parametrize("metered", [False, True], ids=["wasmtime", "as-wasmer"])
@pytest.mark.parametrize("limit", [1, 2, 37])
def test_limit_frames_run_and_one_more_traps(text: str, metered: bool, limit: int) -> None:
    wasm = wat(text)
    rewrite = as_wasmer_compiles if metered else through_depth
    rewritten = rewrite(wasm, limit)
    fits = run(rewritten, "f", (limit - 1,), metered=metered)
    assert fits.trap is None and fits.frames_left == limit
    assert fits.result == run_native(wasm, "f", (limit - 1,)).result
    past = run(rewritten, "f", (limit,), metered=metered)
    assert past.trap is not None and past.trap.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert past.frames_left == DEPTH_EXCEEDED


def test_a_plugin_trap_is_not_the_limit() -> None:
    rewritten = through_depth(wat('(module (func (export "f") (call $g)) (func $g unreachable))'))
    got = run(rewritten, "f", (), metered=False)
    assert got.trap is not None and got.frames_left == SAMPLES_LIMIT - 2


# Every way out of a function: falling off its end, return (also from inside blocks and
# loops), br/br_if/br_table to the function's own label, with one result and with two.
EXITS = """(module
  (func $exit (param $how i32) (result i32) (local $k i32)
    (local.set $k (i32.rem_u (local.get $how) (i32.const 6)))
    (block $not0 (br_if $not0 (local.get $k))
      (return (i32.const 10)))
    (block $not1 (br_if $not1 (i32.ne (local.get $k) (i32.const 1)))
      (loop $l (br_if 2 (i32.const 11) (i32.const 1)) (br $l)))
    (block $not2 (br_if $not2 (i32.ne (local.get $k) (i32.const 2)))
      (br_table 1 1 (i32.const 12) (i32.const 0)))
    (block $not3 (br_if $not3 (i32.ne (local.get $k) (i32.const 3)))
      (br 1 (i32.const 13)))
    (block $not4 (br_if $not4 (i32.ne (local.get $k) (i32.const 4)))
      (block (loop (return (i32.const 14)))))
    (i32.const 15))
  (func $pair (param i32) (result i32 i32)
    (if (local.get 0) (then (return (i32.const 1) (i32.const 2))))
    (br_table 0 0 (i32.const 3) (i32.const 4) (local.get 0)))
  (func (export "f") (result i32) (local $i i32) (local $sum i32)
    (loop $again
      (local.set $sum (i32.add (local.get $sum) (call $exit (local.get $i))))
      (local.set $sum (i32.add (local.get $sum) (i32.add (call $pair (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 50))))
    (local.get $sum)))"""


@pytest.mark.parametrize("metered", [False, True], ids=["wasmtime", "as-wasmer"])
def test_every_exit_gives_its_frame_back(metered: bool) -> None:
    """With room for two frames, a single exit that kept its frame would trap the loop."""
    wasm = wat(EXITS)
    rewrite = as_wasmer_compiles if metered else through_depth
    got = run(rewrite(wasm, 2), "f", (), metered=metered)
    assert got.trap is None, got.trap
    assert got.result == run_native(wasm, "f").result
    assert got.frames_left == 2
    assert_same_as_reference(wasm, "f", ())


START = """(module (global $g (export "g") (mut i32) (i32.const 0))
  (func $down (param i32) (result i32)
    (if (result i32) (local.get 0)
      (then (i32.add (i32.const 1) (call $down (i32.sub (local.get 0) (i32.const 1)))))
      (else (i32.const 0))))
  (func $start (global.set $g (call $down (i32.const 8))))
  (start $start)
  (func (export "f") (result i32) (global.get $g)))"""


def test_the_start_function_counts_and_gives_its_frames_back() -> None:
    """The start function and $down(8): 10 frames."""
    wasm = wat(START)
    store = wasmtime.Store(engine(True))
    store.set_fuel(BIG)
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, through_depth(wasm, 10)), [])
    frames_left = instance.exports(store)[DEPTH_EXPORT]
    assert isinstance(frames_left, wasmtime.Global)
    assert frames_left.value(store) == 10
    with pytest.raises(wasmtime.Trap) as info:
        wasmtime.Instance(store, wasmtime.Module(store.engine, through_depth(wasm, 9)), [])
    assert info.value.trap_code == wasmtime.TrapCode.UNREACHABLE


def test_the_start_function_costs_what_it_cost_before() -> None:
    wasm = wat(START)
    native = wasmtime.Store(engine(True))
    native.set_fuel(BIG)
    wasmtime.Instance(native, wasmtime.Module(native.engine, wasm), [])
    store = wasmtime.Store(engine(True))
    store.set_fuel(BIG)
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, through_depth(wasm)), [])
    refunded = instance.exports(store)[OVERHEAD_EXPORT]
    assert isinstance(refunded, wasmtime.Global)
    assert BIG - store.get_fuel() - refunded.value(store) == BIG - native.get_fuel()


# -- backtraces ------------------------------------------------------------------------------

TRAPS = """(module (func (export "f") (param i32) (result i32)
  (if (i32.eqz (local.get 0)) (then (return (i32.const 0))))
  (call $g (local.get 0)))
  (func $g (param i32) (result i32)
    (i32.div_u (i32.const 7) (i32.sub (local.get 0) (i32.const 1)))))"""


def test_offsets_map_back_to_the_plugins_bytes() -> None:
    wasm = wat(TRAPS)
    reference = run_native(wasm, "f", (1,))
    assert reference.trap is not None
    rewritten = apply_passes(wasm, [CallDepth(SAMPLES_LIMIT)])
    got = run(rewritten.wasm, "f", (1,), metered=False)
    assert got.trap is not None
    offsets = rewritten.offset_map()
    mapped = [offsets.to_original(f.module_offset) for f in got.trap.frames or []]
    assert mapped == [f.module_offset for f in reference.trap.frames or []]
    assert not any(offsets.inserted(f.module_offset) for f in got.trap.frames or [])
    # The limit's own trap is in code the pass inserted, at the callee's first instruction.
    limited = apply_passes(wasm, [CallDepth(1)])
    past = run(limited.wasm, "f", (1,), metered=False)
    assert past.trap is not None and past.frames_left == DEPTH_EXCEEDED
    top = (past.trap.frames or [])[0].module_offset
    assert limited.offset_map().inserted(top)


# -- what is refused, and the cache key --------------------------------------------------------


def test_the_depth_global_is_exported_and_the_limit_is_in_the_key() -> None:
    info = read_module_info(through_depth(wat(DIRECT), 42))
    assert info.export(DEPTH_EXPORT) is not None
    assert info.export(OVERHEAD_EXPORT) is not None
    assert CallDepth(42).key() != CallDepth(43).key()
    assert 42 in cache_key_parts([ResourceLimit(1), CallDepth(42), Fuel()])


@pytest.mark.parametrize("limit", [0, -1, 2**31])
def test_limits_outside_an_i32_counter_are_refused(limit: int) -> None:
    with pytest.raises(ValueError):
        CallDepth(limit)


def test_an_instrumented_module_is_refused() -> None:
    with pytest.raises(WasmFormatError, match="already"):
        through_depth(through_depth(wat(DIRECT)))


def test_exception_handling_is_refused_by_name() -> None:
    wasm = wat('(module (tag $e) (func (export "f") (throw $e)))')
    with pytest.raises(WasmFormatError, match=r"throw \(exception handling proposal\)"):
        through_depth(wasm)
