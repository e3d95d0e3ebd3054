"""instrument_fuel: the metered module charges what wasmtime's native fuel charges.

Each case runs the original on wasmtime with `consume_fuel` and the instrumented copy on
wasmtime without it (fuel read from the exported global), and compares fuel and results.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

from wasmcli.wasm import (
    FUEL_EXHAUSTED,
    FUEL_EXPORT,
    START_EXPORT,
    WasmFormatError,
    instrument_fuel,
    read_module_info,
)
from wasmcli.wasm import module as sections

from .harness import (
    BIG,
    compare,
    engine,
    module_with_code,
    run_metered,
    run_native,
    validates,
    wat,
)

# 129 types, so that the last ones' indices take two LEB bytes in a block type (128's
# first byte is 0x80, where the value types end).
_MANY_TYPES = " ".join(f"(type $t{n} (func (param i32) (result i32)))" for n in range(129))

CASES: dict[str, tuple[str, list[tuple[Any, ...]]]] = {
    "float_constants": (
        """(module (func (export "f") (param f32) (result f64)
          (f64.add (f64.promote_f32 (f32.mul (local.get 0) (f32.const 1.5)))
                   (f64.const 2.25))))""",
        [(2.0,)],
    ),
    "block_types_by_a_two_byte_index": (
        f"""(module {_MANY_TYPES} (type $fn (func (result i32)))
          (func $seven (type $fn) (i32.const 7))
          (elem declare func $seven)
          (func (export "f") (param i32) (result i32)
          ;; i32.add (0x6a) right before: the byte before a block opcode says nothing
          (i32.add (local.get 0) (i32.const 0))
          (block (type $t68) (i32.add (i32.const 1)))
          (loop (type $t128) (i32.mul (i32.const 3)))
          (if (type $t68) (local.get 0)
            (then (i32.add (i32.const 5))) (else (i32.sub (i32.const 2))))
          (block (result (ref null $fn)) (ref.null $fn)) (drop)
          (block (result (ref $fn)) (ref.func $seven)) (call_ref $fn)
          (i32.add)
          ;; 0x64 0x70: a reference type whose heap type is itself a value type's byte
          (block (result (ref func)) (ref.func $seven)) (drop)))""",
        [(0,), (4,)],
    ),
    "empty": ('(module (func (export "f")))', [()]),
    "nop_drop": ('(module (func (export "f") nop (drop (i32.const 1)) nop))', [()]),
    "straight_line": (
        """(module (func (export "f") (param i32) (result i32)
          (i32.add (i32.mul (local.get 0) (i32.const 3))
                   (i32.xor (i32.shl (local.get 0) (i32.const 2)) (i32.const 0x55)))))""",
        [(0,), (7,)],
    ),
    "counter_loop": (
        """(module (func (export "f") (param $n i32) (result i32) (local $i i32) (local $s i32)
          (block $out (loop $l
            (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $s (i32.add (local.get $s) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $l)))
          (local.get $s)))""",
        [(0,), (1,), (100,)],
    ),
    "nested_blocks_br_depths": (
        """(module (func (export "f") (param $x i32) (result i32) (local $r i32)
          (block $a (block $b (block $c (block $d
            (local.set $r (i32.const 1))
            (br_if $d (i32.eq (local.get $x) (i32.const 0)))
            (local.set $r (i32.const 2))
            (br_if $c (i32.eq (local.get $x) (i32.const 1)))
            (local.set $r (i32.const 3))
            (br_if $b (i32.eq (local.get $x) (i32.const 2)))
            (local.set $r (i32.const 4))
            (br_if $a (i32.eq (local.get $x) (i32.const 3)))
            (local.set $r (i32.const 5)))
            (local.set $r (i32.add (local.get $r) (i32.const 10))))
            (local.set $r (i32.add (local.get $r) (i32.const 100))))
            (local.set $r (i32.add (local.get $r) (i32.const 1000))))
          (local.get $r)))""",
        [(0,), (1,), (2,), (3,), (4,)],
    ),
    "br_table": (
        """(module (func (export "f") (param i32) (result i32)
          (block $a (block $b (block $c
            (br_table $a $b $c $b (local.get 0)))
            (return (i32.const 30)))
            (return (i32.const 20)))
          (i32.const 10)))""",
        [(0,), (1,), (2,), (3,), (99,)],
    ),
    "br_table_with_value": (
        """(module (func (export "f") (param i32) (result i32)
          (block $a (result i32) (block $b (result i32)
            (br_table $a $b (i32.const 7) (local.get 0)))
            (i32.add (i32.const 1)))))""",
        [(0,), (1,)],
    ),
    "if_else": (
        """(module (func (export "f") (param i32) (result i32)
          (if (result i32) (local.get 0)
            (then (i32.add (local.get 0) (i32.const 1)))
            (else (i32.const 42)))))""",
        [(0,), (5,)],
    ),
    "if_without_else": (
        """(module (global $g (mut i32) (i32.const 0))
          (func (export "f") (param i32) (result i32)
          (if (local.get 0) (then (global.set $g (i32.const 5)) (nop)))
          (global.get $g)))""",
        [(0,), (1,)],
    ),
    "early_return": (
        """(module (func (export "f") (param i32) (result i32)
          (if (i32.gt_s (local.get 0) (i32.const 10)) (then (return (i32.const -1))))
          (i32.mul (local.get 0) (local.get 0))))""",
        [(3,), (11,)],
    ),
    "calls": (
        """(module (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
          (func $empty)
          (func (export "f") (param i32) (result i32)
          (call $empty) (call $g (call $g (local.get 0)))))""",
        [(1,)],
    ),
    "call_indirect": (
        """(module (type $t (func (param i32) (result i32)))
          (table 3 funcref) (elem (i32.const 0) $inc $dbl $inc)
          (func $inc (type $t) (i32.add (local.get 0) (i32.const 1)))
          (func $dbl (type $t) (i32.shl (local.get 0) (i32.const 1)))
          (func (export "f") (param i32) (result i32)
          (call_indirect (type $t) (i32.const 10) (local.get 0))))""",
        [(0,), (1,), (2,)],
    ),
    "host_call": (
        """(module (import "host" "log" (func $log (param i32 i32)))
          (func (export "f") (call $log (i32.const 0) (i32.const 0))))""",
        [()],
    ),
    "fib_recursion": (
        """(module (func $fib (export "f") (param i32) (result i32)
          (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
            (then (local.get 0))
            (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                           (call $fib (i32.sub (local.get 0) (i32.const 2))))))))""",
        [(0,), (1,), (15,)],
    ),
    "memory_ops": (
        """(module (memory 1)
          (func (export "f") (param i32) (result i32)
          (i32.store offset=8 (i32.const 0) (local.get 0))
          (i64.store (i32.const 16) (i64.extend_i32_s (local.get 0)))
          (i32.store8 (i32.const 32) (i32.const 0x1ff))
          (f64.store (i32.const 40) (f64.const 2.5))
          (i32.add (i32.load offset=8 align=2 (i32.const 0))
            (i32.add (i32.wrap_i64 (i64.load (i32.const 16)))
              (i32.add (i32.load8_u (i32.const 32))
                (i32.trunc_f64_s (f64.load (i32.const 40))))))))""",
        [(5,)],
    ),
    "memory_size_grow": (
        """(module (memory 1 3)
          (func (export "f") (param i32) (result i32)
          (i32.add (memory.grow (local.get 0)) (memory.size))))""",
        [(0,), (1,), (2,), (5,), (-1,)],
    ),
    "memory_grow_constant": (
        """(module (memory 1 2)
          (func (export "f") (result i32)
          (i32.add (memory.grow (i32.const 1)) (memory.grow (i32.const 5)))))""",
        [()],
    ),
    "grow_constants_64_and_tables": (
        """(module (memory i64 1 300) (table $t i64 1 2 funcref) (table $u 1 2 funcref)
          (func (export "f") (result i64)
          ;; 2**32 + 5: small in its low 32 bits, a failed growth of a 64-bit memory
          (drop (memory.grow (i64.const 4294967301)))
          (i64.add (i64.add (memory.grow (i64.const 5)) (memory.grow (i64.const 200)))
            (i64.add (table.grow $t (ref.null func) (i64.const 5))
              (i64.extend_i32_s (i32.add (table.grow $u (ref.null func) (i32.const 500))
                                         (i32.wrap_i64 (memory.grow (i64.const -1)))))))))""",
        [()],
    ),
    # Reference types carry a heap type (a type index) after their code: in locals, in
    # typed selects, as the 0x63 (nullable) and 0x64 forms.
    "typed_reference_locals_and_selects": (
        """(module (type $fn (func (result i32)))
          (func $seven (type $fn) (i32.const 7))
          (elem declare func $seven)
          (func (export "f") (param i32) (result i32) (local $r (ref null $fn))
          (local $nn (ref $fn)) (local $n i32)
          (local.set $r (select (result (ref null $fn)) (ref.func $seven) (ref.null $fn)
                                (local.get 0)))
          (local.set $nn (ref.func $seven))
          (local.set $n (i32.sub (call_ref $fn (local.get $nn)) (i32.const 4)))
          (i32.add (i32.add (local.get $n) (ref.is_null (local.get $r)))
                   (call_ref $fn (select (result (ref $fn)) (ref.func $seven) (ref.func $seven)
                                         (local.get 0))))))""",
        [(0,), (1,)],
    ),
    # A br_table that returns saves the count: by a label not its last, or by all of them.
    "br_table_returning_by_a_label_not_its_last": (
        """(module (func (export "f") (param i32) (result i32)
          (block $out (result i32) (br_table 1 $out (i32.const 5) (local.get 0)))
          (drop) (i32.const 6)))""",
        [(0,), (1,)],
    ),
    "br_table_of_the_function_only": (
        """(module (func (export "f") (param i32) (result i32)
          (i32.const 5) (local.get 0) (br_table 0 0)))""",
        [(0,), (1,)],
    ),
    # A 64-bit grow's result kept in its own temp, with no 32-bit temps before it.
    "dynamic_64_bit_grow_alone": (
        """(module (memory i64 1 10)
          (func (export "f") (param i64) (result i64) (memory.grow (local.get 0))))""",
        [(2,), (20,)],
    ),
    # A memory offset of two LEB bytes, the last one odd (385 is 0x81 0x03).
    "long_memory_offsets": (
        """(module (memory 1) (data (i32.const 385) "x")
          (func (export "f") (param i32) (result i32)
          (i32.add (i32.load8_u offset=385 (i32.const 0)) (local.get 0))))""",
        [(1,)],
    ),
    # The temps of a 64-bit grow's result stay when a 32-bit operand comes after it.
    "dynamic_64_bit_grow_then_a_32_bit_one": (
        """(module (memory i64 1 10) (table $u 1 100 funcref)
          (func (export "f") (param i32) (result i64)
          (i64.add (memory.grow (i64.extend_i32_u (local.get 0)))
                   (i64.extend_i32_s (table.grow $u (ref.null func) (local.get 0))))))""",
        [(2,), (20,)],
    ),
    "select": (
        """(module (func (export "f") (param i32) (result i32)
          (i32.add (select (i32.const 1) (i32.const 2) (local.get 0))
                   (i32.wrap_i64 (select (result i64) (i64.const 10) (i64.const 20)
                                         (local.get 0))))))""",
        [(0,), (1,)],
    ),
    "bulk_memory": (
        """(module (memory 1) (data $d "0123456789")
          (func (export "f") (param i32) (result i32)
          (memory.init $d (i32.const 100) (i32.const 0) (local.get 0))
          (memory.fill (i32.const 200) (i32.const 0x41) (local.get 0))
          (memory.copy (i32.const 300) (i32.const 100) (local.get 0))
          (memory.copy (i32.const 400) (i32.const 100) (i32.const 4))
          (memory.fill (i32.const 500) (i32.const 1) (i32.const 5000))
          (data.drop $d)
          (i32.add (i32.load8_u (i32.const 303)) (i32.load8_u (i32.const 203)))))""",
        [(4,), (10,)],
    ),
    "bulk_table": (
        """(module (table $t 4 funcref) (elem $e func $g $g $g) (func $g)
          (func (export "f") (param i32) (result i32)
          (table.init $t $e (i32.const 0) (i32.const 0) (local.get 0))
          (table.copy (i32.const 1) (i32.const 0) (local.get 0))
          (table.fill (i32.const 0) (ref.null func) (local.get 0))
          (drop (table.grow (ref.null func) (local.get 0)))
          (drop (table.grow (ref.null func) (i32.const 2)))
          (elem.drop $e)
          (table.size)))""",
        [(1,), (3,)],
    ),
    "saturating_truncation": (
        """(module (func (export "f") (param f32) (result i32)
          (i32.add (i32.trunc_sat_f32_s (local.get 0))
                   (i32.wrap_i64 (i64.trunc_sat_f32_u (local.get 0))))))""",
        [(1e20,), (-3.5,)],
    ),
    "simd": (
        """(module (memory 1)
          (func (export "f") (param i32) (result i32)
          (v128.store offset=16 (i32.const 0)
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (v128.const i32x4 1 2 3 4) (i32x4.splat (local.get 0))))
          (v128.store8_lane 3 (i32.const 100) (v128.load32_zero (i32.const 16)))
          (drop (v128.load16_lane offset=2 1 (i32.const 0) (v128.const i64x2 0 0)))
          (i32.add
            (i32x4.extract_lane 3 (v128.load offset=16 align=4 (i32.const 0)))
            (i32.add (i8x16.extract_lane_u 15 (i8x16.swizzle (v128.load (i32.const 16))
                                                             (v128.const i8x16 0 1 2 3 4 5 6 7
                                                                               8 9 10 11 12
                                                                               13 14 15)))
              (i32x4.extract_lane 0 (f32x4.convert_i32x4_s
                (i32x4.dot_i16x8_s (v128.load64_splat (i32.const 16))
                                   (v128.load8x8_u (i32.const 16)))))))))""",
        [(9,)],
    ),
    "multi_value": (
        """(module (type $pair (func (result i32 i32)))
          (func $swap (param i32 i32) (result i32 i32) (local.get 1) (local.get 0))
          (func (export "f") (param i32) (result i32 i32)
          (block $b (type $pair) (call $swap (local.get 0) (i32.const 9)))
          (loop (param i32 i32) (result i32 i32) (nop))
          (if (param i32 i32) (result i32 i32) (local.get 0)
            (then (i32.add (i32.const 1)))
            (else))))""",
        [(0,), (4,)],
    ),
    "dead_code": (
        """(module (func (export "f") (param i32) (result i32)
          (block (result i32)
            (br 0 (i32.const 1))
            (i32.const 5) (i32.add (i32.const 1)) (drop) (block (loop (br 0))))
          (if (result i32) (local.get 0)
            (then (return (i32.const 9)) (i32.const 1) (drop))
            (else (unreachable) (i32.const 2) (i32.add (i32.const 3))))
          (i32.add)))""",
        [(1,)],
    ),
    "dead_code_after_br_table_and_return": (
        """(module (memory 1) (func (export "f") (param i32) (result i32)
          (block $x (br_table $x $x (local.get 0)) (memory.fill (i32.const 0) (i32.const 0)
                                                              (i32.const 10)))
          (return (i32.const 3))
          (drop (memory.grow (i32.const 1)))
          (i32.const 4)))""",
        [(0,)],
    ),
    "tail_calls": (
        """(module (type $t (func (param i32) (result i32)))
          (table 1 funcref) (elem (i32.const 0) $down)
          (func $down (type $t)
            (if (result i32) (local.get 0)
              (then (return_call_indirect (type $t)
                      (i32.sub (local.get 0) (i32.const 1)) (i32.const 0)))
              (else (i32.const 42))))
          (func (export "f") (param i32) (result i32) (return_call $down (local.get 0))))""",
        [(0,), (6,)],
    ),
    "reference_types": (
        """(module (table $t 2 funcref) (func $g) (elem declare func $g)
          (func (export "f") (result i32)
          (table.set $t (i32.const 1) (ref.func $g))
          (i32.add (ref.is_null (table.get $t (i32.const 0)))
                   (ref.is_null (ref.null extern)))))""",
        [()],
    ),
    "function_references": (
        """(module (type $t (func (param i32) (result i32)))
          (func $g (type $t) (i32.mul (local.get 0) (i32.const 3))) (elem declare func $g)
          (func (export "f") (param i32) (result i32) (local $r (ref null $t))
          (local.set $r (ref.func $g))
          (block $null (br_on_null $null (local.get $r)) (drop))
          (i32.add (call_ref $t (local.get 0) (ref.as_non_null (local.get $r)))
                   (ref.is_null (ref.null func)))))""",
        [(5,)],
    ),
    "memory64_and_multi_memory": (
        """(module (memory $a 1) (memory $b i64 2) (data $d "hello")
          (func (export "f") (param i32) (result i32)
          (memory.init $b $d (i64.const 0) (i32.const 0) (i32.const 5))
          (memory.copy $a $b (i32.const 0) (i64.const 0) (local.get 0))
          (memory.fill $b (i64.const 10) (i32.const 1) (i64.const 20))
          (i32.store $b offset=4 (i64.const 64) (i32.const 9))
          (drop (memory.grow $b (i64.extend_i32_u (local.get 0))))
          (i32.add (i32.load8_u $a (i32.const 1)) (i32.load $b offset=4 (i64.const 64)))
          ;; alignment 0 in memory 1: its memarg flags are exactly 0x40
          (i32.add (i32.load8_u $b (i64.const 69)))))""",
        [(4,)],
    ),
    "atomics": (
        """(module (memory 1 1 shared) (func (export "f") (param i32) (result i32)
          (i32.atomic.store (i32.const 0) (local.get 0))
          (drop (i32.atomic.rmw.add (i32.const 0) (i32.const 5)))
          (atomic.fence)
          (drop (memory.atomic.notify (i32.const 0) (i32.const 1)))
          (i32.atomic.rmw.cmpxchg (i32.const 0) (i32.const 12) (i32.const 1))))""",
        [(7,)],
    ),
}


@pytest.mark.parametrize(
    ("name", "args"),
    [(name, args) for name, (_, arg_list) in CASES.items() for args in arg_list],
)
def test_same_fuel_and_results_as_wasmtime(name: str, args: tuple[Any, ...]) -> None:
    wasm = wat(CASES[name][0])
    native, metered = compare(wasm, "f", args)
    assert metered.result == native.result
    assert metered.fuel == native.fuel


@pytest.mark.parametrize("name", list(CASES))
def test_instrumented_module_validates(name: str) -> None:
    wasm = wat(CASES[name][0])
    assert validates(wasm)
    assert validates(instrument_fuel(wasm))


def test_known_costs() -> None:
    """The figures of the cost model, independently of wasmtime."""
    cases = {
        '(module (func (export "f")))': 1,  # function entry
        '(module (func $g) (func (export "f") call $g))': 3,  # entry + call + callee entry
        '(module (func (export "f") (block (br 0))))': 2,  # entry + br
        '(module (func (export "f") nop nop (drop (i32.const 0))))': 2,
        '(module (memory 1) (func (export "f") (memory.fill (i32.const 0) (i32.const 0) '
        "(i32.const 100))))": 105,
    }
    for text, expected in cases.items():
        assert run_metered(instrument_fuel(wat(text)), "f").fuel == expected, text


# -- the fuel global and the out-of-fuel verdict -------------------------------------------

LOOP = """(module (func (export "f") (param $n i32) (local $i i32)
  (loop $l
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br_if $l (i32.lt_u (local.get $i) (local.get $n))))))"""

INFINITE = '(module (func (export "f") (loop $l (br $l))))'


def test_fuel_global_is_appended_exported_and_starts_at_zero() -> None:
    wasm = wat(
        "(module (global $a i32 (i32.const 1)) (global $b (mut i64) (i64.const 2)) "
        '(func (export "f")))'
    )
    instrumented = instrument_fuel(wasm)
    info = read_module_info(instrumented)
    assert info.num_globals == 3
    export = info.export(FUEL_EXPORT)
    assert export is not None and (export.kind, export.index) == ("global", 2)
    store = wasmtime.Store(engine(False))
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, instrumented), [])
    counter = instance.exports(store)[FUEL_EXPORT]
    assert isinstance(counter, wasmtime.Global)
    assert counter.value(store) == 0
    assert str(counter.type(store).content) == "i64" and counter.type(store).mutable


def test_infinite_loop_runs_out_of_fuel_and_says_so_in_the_global() -> None:
    outcome = run_metered(instrument_fuel(wat(INFINITE)), "f", fuel=1000)
    assert outcome.trap is not None
    assert outcome.trap.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert outcome.remaining == FUEL_EXHAUSTED


def test_exact_fuel_completes_at_zero() -> None:
    instrumented = instrument_fuel(wat(LOOP))
    needed = run_metered(instrumented, "f", (5,)).fuel
    assert needed == run_native(wat(LOOP), "f", (5,)).fuel == 41
    exact = run_metered(instrumented, "f", (5,), fuel=needed)
    assert exact.trap is None and exact.remaining == 0


# Where a run stops for want of fuel depends on where the count is checked; these modules
# put a check (function entry, loop header, bulk charge, call) at every kind of place.
AT_THE_LIMIT = {
    "straight": (
        '(module (func (export "f") (param i32) (result i32) (i32.add (i32.add '
        "(i32.const 1) (i32.const 2)) (i32.const 3))))",
        (0,),
        12,
    ),
    "loop": (LOOP, (5,), 45),
    "call": (
        '(module (func $g (result i32) (i32.const 5)) (func (export "f") (param i32) '
        "(result i32) (i32.add (i32.add (call $g) (i32.const 1)) (i32.const 1))))",
        (0,),
        12,
    ),
    "fill": (
        '(module (memory 1) (func (export "f") (param i32) (result i32) (memory.fill '
        "(i32.const 0) (i32.const 0) (local.get 0)) (i32.const 7)))",
        (1000,),
        1012,
    ),
    "grow": (
        '(module (memory 1 100) (func (export "f") (param i32) (result i32) '
        "(drop (memory.grow (local.get 0))) (i32.const 7)))",
        (10,),
        20,
    ),
    "nested loops": (
        '(module (func (export "f") (param $n i32) (local $i i32) (local $j i32) '
        "(loop $a (local.set $j (i32.const 0)) (loop $b (local.set $j (i32.add "
        "(local.get $j) (i32.const 1))) (br_if $b (i32.lt_u (local.get $j) "
        "(i32.const 3)))) (local.set $i (i32.add (local.get $i) (i32.const 1))) "
        "(br_if $a (i32.lt_u (local.get $i) (local.get $n))))))",
        (3,),
        90,
    ),
    # Float constants are charged with their block, as on wasmtime: no check after them.
    "float constants": (
        '(module (func (export "f") (param i32) (result i32) (i32.add (local.get 0) '
        "(i32.trunc_f64_s (f64.add (f64.const 2.5) (f64.promote_f32 (f32.const 1.5)))))))",
        (1,),
        12,
    ),
    "constant fill": (
        '(module (memory 1) (func (export "f") (param i32) (result i32) '
        "(memory.fill (i32.const 0) (i32.const 0) (i32.const 300)) (i32.const 7)))",
        (0,),
        310,
    ),
    # Up to 128 known statically, wasmtime charges an operand with its block and checks
    # nothing after the instruction; above, it checks right after (as for any operand).
    "small constant operands": (
        '(module (memory 1 10) (table 4 20 funcref) (data $d "abcdef") '
        '(func (export "f") (param i32) (result i32) '
        "(memory.fill (i32.const 0) (i32.const 7) (i32.const 5)) "
        "(memory.copy (i32.const 10) (i32.const 0) (i32.const 128)) "
        "(memory.init $d (i32.const 200) (i32.const 0) (i32.const 6)) "
        "(drop (memory.grow (i32.const 1))) "
        "(drop (table.grow (ref.null func) (i32.const 128))) "
        "(table.fill (i32.const 0) (ref.null func) (i32.const 3)) "
        "(i32.add (i32.load8_u (i32.const 12)) (i32.const 7))))",
        (0,),
        300,
    ),
    "constant operands above 128": (
        '(module (memory 1 10) (table 4 300 funcref) (func (export "f") (param i32) '
        "(result i32) (memory.fill (i32.const 0) (i32.const 7) (i32.const 129)) "
        "(drop (table.grow (ref.null func) (i32.const 129))) (i32.const 7)))",
        (0,),
        300,
    ),
    # A growth that fails is neither charged nor checked; one that succeeds is both.
    "failed growths": (
        '(module (memory 1 2) (table 1 2 funcref) (func (export "f") (param $n i32) '
        "(result i32) (drop (memory.grow (i32.const 1))) (drop (table.grow (ref.null func) "
        "(i32.sub (local.get $n) (i32.const 4)))) (drop (memory.grow (local.get $n))) "
        "(drop (memory.grow (i32.const 200))) (drop (table.grow (ref.null func) "
        "(local.get $n))) (i32.const 7)))",
        (5,),
        40,
    ),
    "copy then loop": (
        '(module (memory 1) (func (export "f") (param $n i32) (result i32) '
        "(memory.copy (i32.const 0) (i32.const 100) (local.get $n)) "
        "(loop $l (local.set $n (i32.sub (local.get $n) (i32.const 100))) "
        "(br_if $l (i32.gt_s (local.get $n) (i32.const 0)))) (i32.const 1)))",
        (250,),
        280,
    ),
    # None of these ends a block or is checked after: a typed select, SIMD, an atomic,
    # a saturating truncation (0xFC, not a bulk operation).
    "select, simd, atomics and saturating truncation": (
        '(module (memory 1 1 shared) (func (export "f") (param i32) (result i32) '
        "(i32.add (i32.add (select (result i32) (i32.const 1) (i32.const 2) (local.get 0)) "
        "(i32x4.extract_lane 1 (v128.const i32x4 1 2 3 4))) (i32.add "
        "(i32.atomic.rmw.add (i32.const 0) (i32.const 5)) "
        "(i32.trunc_sat_f32_s (f32.const 2.5))))))",
        (0,),
        16,
    ),
    "call_indirect": (
        "(module (type $t (func (result i32))) (table 1 funcref) (elem (i32.const 0) "
        '$g) (func $g (result i32) (loop $l) (i32.const 5)) (func (export "f") '
        "(param i32) (result i32) (i32.add (call_indirect (type $t) (local.get 0))"
        " (i32.const 1))))",
        (0,),
        12,
    ),
    "host call": (
        '(module (import "host" "h" (func $h)) (func (export "f") (param i32) '
        "(result i32) (call $h) (call $h) (i32.const 3)))",
        (0,),
        10,
    ),
    "tail call": (
        "(module (func $g (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))"
        ' (func (export "f") (param i32) (result i32) (return_call $g (i32.const 2))))',
        (0,),
        10,
    ),
    "if and else": (
        '(module (func (export "f") (param i32) (result i32) (if (result i32) (local.get 0) '
        "(then (i32.add (i32.const 1) (i32.const 2))) (else (i32.const 3)))))",
        (1,),
        10,
    ),
    "return from a loop": (
        '(module (func (export "f") (param $n i32) (result i32) (loop $l '
        "(local.set $n (i32.sub (local.get $n) (i32.const 1))) (br_if 1 "
        "(i32.eqz (local.get $n)) (local.get $n)) (br $l)) (i32.const 9)))",
        (4,),
        40,
    ),
}


@pytest.mark.parametrize("name", sorted(AT_THE_LIMIT))
def test_every_fuel_limit_stops_or_completes_as_on_wasmtime(name: str) -> None:
    """Fuel from 0 up: the metered module traps for want of fuel exactly when wasmtime
    does, and a run that completes reports what wasmtime reports (an overdraw between
    checks counts the whole limit, as wasmtime's get_fuel() reads 0)."""
    text, args, most = AT_THE_LIMIT[name]
    wasm = wat(text)
    instrumented = instrument_fuel(wasm)
    for fuel in range(most + 1):
        native = run_native(wasm, "f", args, fuel=fuel)
        metered = run_metered(instrumented, "f", args, fuel=fuel)
        assert (native.trap is None) == (metered.trap is None), (name, fuel)
        if native.trap is None:
            assert metered.result == native.result, (name, fuel)
            assert min(metered.fuel, fuel) == native.fuel, (name, fuel)
        else:
            assert native.trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL, (name, fuel)
            assert metered.remaining == FUEL_EXHAUSTED, (name, fuel)


def test_plugin_trap_leaves_the_global_non_negative() -> None:
    wasm = wat('(module (func (export "f") (drop (i32.div_u (i32.const 1) (i32.const 0)))))')
    outcome = run_metered(instrument_fuel(wasm), "f", fuel=100)
    assert outcome.trap is not None
    assert outcome.trap.trap_code == wasmtime.TrapCode.INTEGER_DIVISION_BY_ZERO
    assert outcome.remaining >= 0


def test_out_of_bounds_bulk_copy_is_a_plugin_trap_not_out_of_fuel() -> None:
    # wasmtime checks bounds before charging the length; so does the metered module.
    wasm = wat(
        '(module (memory 1) (func (export "f") (param i32) '
        "(memory.copy (i32.const 0) (i32.const 0) (local.get 0))))"
    )
    outcome = run_metered(instrument_fuel(wasm), "f", (0x7FFFFFFF,), fuel=1000)
    assert outcome.trap is not None
    assert outcome.trap.trap_code == wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS
    assert outcome.remaining >= 0
    native = run_native(wasm, "f", (0x7FFFFFFF,), fuel=1000)
    assert native.trap is not None
    assert native.trap.trap_code == wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS


def test_wasmtime_checks_fuel_only_at_function_entries_and_loop_headers() -> None:
    """What wasmtime does at the limit, which the metered module copies (the test above).

    wasmtime adds costs lazily and checks them at function entry, loop headers and bulk
    operations, trapping when the remaining fuel there is <= 0. Between checks a run can
    overdraw: this loop needs 41 and completes with 40 (get_fuel() then reads 0), and
    only traps with 33.
    """
    wasm = wat(LOOP)
    assert run_native(wasm, "f", (5,), fuel=41).trap is None
    overdrawn = run_native(wasm, "f", (5,), fuel=40)
    assert overdrawn.trap is None and overdrawn.remaining == 0
    assert run_native(wasm, "f", (5,), fuel=34).trap is None
    assert run_native(wasm, "f", (5,), fuel=33).trap is not None
    metered = instrument_fuel(wasm)
    assert run_metered(metered, "f", (5,), fuel=34).trap is None
    assert run_metered(metered, "f", (5,), fuel=33).trap is not None
    # A function's entry check: with exactly the 1 unit an empty function costs, both trap.
    empty = wat('(module (func (export "f")))')
    assert run_native(empty, "f", fuel=1).trap is not None
    assert run_metered(instrument_fuel(empty), "f", fuel=1).trap is not None


# -- the start function ------------------------------------------------------------------------

START = """(module
  (global $g (export "g") (mut i32) (i32.const 0))
  (func $bump (global.set $g (i32.add (global.get $g) (i32.const 41))))
  (start $bump)
  (func (export "f") (result i32) (global.get $g)))"""


def test_start_function_becomes_an_export() -> None:
    wasm = wat(START)
    instrumented = instrument_fuel(wasm)
    assert not any(s.id == sections.START for s in sections.split_sections(instrumented))
    info = read_module_info(instrumented)
    assert info.start is None
    export = info.export(START_EXPORT)
    assert export is not None and export.kind == "func"
    assert str(export.signature) == "() -> ()"

    # Instantiation alone runs nothing: $g is still 0.
    store = wasmtime.Store(engine(False))
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, instrumented), [])
    exports = instance.exports(store)
    counter = exports[FUEL_EXPORT]
    assert isinstance(counter, wasmtime.Global)
    counter.set_value(store, wasmtime.Val.i64(1000))
    assert exports["f"](store) == 0
    counter.set_value(store, wasmtime.Val.i64(1000))
    exports[START_EXPORT](store)
    start_fuel = 1000 - counter.value(store)
    assert exports["f"](store) == 41

    # ... and costs what wasmtime charges for the start function during instantiation.
    native = wasmtime.Store(engine(True))
    native.set_fuel(1000)
    wasmtime.Instance(native, wasmtime.Module(native.engine, wasm), [])
    assert start_fuel == 1000 - native.get_fuel() == 7


def test_imported_start_function() -> None:
    wasm = wat('(module (import "host" "init" (func $init)) (start $init) (func (export "f")))')
    native = wasmtime.Store(engine(True))
    native.set_fuel(1000)
    calls: list[str] = []
    host = wasmtime.Func(native, wasmtime.FuncType([], []), lambda: calls.append("native"))
    wasmtime.Instance(native, wasmtime.Module(native.engine, wasm), [host])

    store = wasmtime.Store(engine(False))
    host = wasmtime.Func(store, wasmtime.FuncType([], []), lambda: calls.append("metered"))
    module = wasmtime.Module(store.engine, instrument_fuel(wasm))
    exports = wasmtime.Instance(store, module, [host]).exports(store)
    assert calls == ["native"]
    counter = exports[FUEL_EXPORT]
    assert isinstance(counter, wasmtime.Global)
    counter.set_value(store, wasmtime.Val.i64(1000))
    exports[START_EXPORT](store)
    assert calls == ["native", "metered"]
    assert 1000 - counter.value(store) == 1000 - native.get_fuel()


@pytest.mark.parametrize(
    "text",
    [
        "(module)",
        "(module (func $s) (start $s))",  # no global, export sections: created
        '(module (import "h" "s" (func $s)) (start $s))',  # no function, code sections
        '(module (memory 1) (data (i32.const 0) "x") (func $s) (start $s))',
    ],
)
def test_missing_sections_are_created_in_order(text: str) -> None:
    instrumented = instrument_fuel(wat(text))
    assert validates(instrumented)
    info = read_module_info(instrumented)
    assert info.export(FUEL_EXPORT) is not None
    assert (info.export(START_EXPORT) is not None) == ("start" in text)


# -- what is kept, what is refused -------------------------------------------------------------


def test_other_sections_are_kept_byte_for_byte() -> None:
    wasm = wat("""(module $m
      (import "host" "log" (func $log (param i32 i32)))
      (memory (export "memory") 1)
      (global $g (mut i32) (i32.const 3))
      (table 1 funcref) (elem (i32.const 0) $f)
      (data (i32.const 8) "abc")
      (func $f (export "f") (call $log (i32.const 8) (i32.const 3))))""")
    wasm += sections.encode_section(0, b"\x05extra" + b"payload")
    instrumented = instrument_fuel(wasm)

    def by_id(module: bytes) -> dict[int, list[bytes]]:
        out: dict[int, list[bytes]] = {}
        for s in sections.split_sections(module):
            out.setdefault(s.id, []).append(module[s.start : s.end])
        return out

    before, after = by_id(wasm), by_id(instrumented)
    for sid in (
        sections.CUSTOM,
        sections.TYPE,
        sections.IMPORT,
        sections.FUNCTION,
        sections.MEMORY,
        sections.TABLE,
        sections.ELEMENT,
        sections.DATA,
    ):
        assert after[sid] == before[sid], sections.describe(sid)
    assert read_module_info(instrumented).function_names == {0: "log", 1: "f"}


def test_locals_and_names_survive() -> None:
    wasm = wat("""(module (func $f (export "f") (param $p i64) (result i64)
      (local $a i32) (local $b f64) (local $c v128) (local $d externref)
      (local.set $a (i32.const 3))
      (i64.add (local.get $p) (i64.extend_i32_u (local.get $a)))))""")
    native, metered = compare(wasm, "f", (10,))
    assert metered.result == native.result == 13
    assert read_module_info(instrument_fuel(wasm)).function_names == {0: "f"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('(module (tag $e) (func (export "f") (throw $e)))', "exception handling"),
        (
            '(module (tag $e) (func (export "f") (block $h (try_table (catch_all $h)))))',
            "exception handling",
        ),
    ],
)
def test_unsupported_proposals_are_refused_by_name(text: str, message: str) -> None:
    wasm = wat(text)
    with pytest.raises(WasmFormatError, match=message) as info:
        instrument_fuel(wasm)
    assert "\n" not in str(info.value)


def test_gc_instructions_are_refused_by_name() -> None:
    wasm = wat("""(module (type $s (struct (field i32)))
      (func (export "f") (result i32) (struct.get $s 0 (struct.new $s (i32.const 1)))))""")
    with pytest.raises(WasmFormatError, match=r"GC proposal"):
        instrument_fuel(wasm)


def test_unknown_opcode_is_reported_with_function_and_offset() -> None:
    wasm = module_with_code([b"\x00\x0b", b"\x00\x41\x00\x1a\xfc\x99\x01\x0b"])
    at = wasm.index(b"\xfc\x99\x01")
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(wasm)
    assert str(info.value) == f"unknown opcode 0xFC 0x99 in function 1 at byte {at:#x}"


@pytest.mark.parametrize(
    ("code", "name", "proposal"),
    [
        (b"\xfc\x12\x00", "memory.discard", "memory control"),
        (b"\xfe\x4f\x00", "shared global/table atomics", "shared-everything threads"),
        (b"\xfe\x7f\x00", "shared global/table atomics", "shared-everything threads"),
    ],
)
def test_a_prefixed_instruction_of_an_unsupported_proposal_is_refused_by_name(
    code: bytes, name: str, proposal: str
) -> None:
    wasm = module_with_code([b"\x00\x0b", b"\x00\x41\x00\x1a" + code + b"\x0b"])
    at = wasm.index(code)
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(wasm)
    assert str(info.value) == (
        f"unsupported instruction {name} ({proposal} proposal) in function 1 at byte "
        f"{at:#x}: fuel metering does not support it"
    )


def test_already_instrumented_module_is_refused() -> None:
    once = instrument_fuel(wat('(module (func (export "f")))'))
    with pytest.raises(WasmFormatError, match="already"):
        instrument_fuel(once)


@pytest.mark.parametrize(
    "body",
    [
        b"\x00\x41\x01\x1a",  # no final end
        b"\x00\x41",  # ends inside i32.const
        b"\x00\x0b\x01",  # code after the final end
        b"\x00\x05\x0b",  # else without if
    ],
)
def test_malformed_body_is_a_format_error(body: bytes) -> None:
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(module_with_code([body]))
    assert "function 0" in str(info.value)
    assert "\n" not in str(info.value)


def test_big_fuel_values() -> None:
    outcome = run_metered(instrument_fuel(wat(LOOP)), "f", (3,), fuel=2**62)
    assert outcome.trap is None and outcome.fuel == run_native(wat(LOOP), "f", (3,)).fuel
    assert BIG < 2**62


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # Function 0's body is at bytes 0x16 up to 0x16 + its length.
        (
            b"\x00\x41",
            "truncated module: the body of function 0 (bytes 0x16-0x18) ends inside an instruction",
        ),
        (b"\x00\x0b\x01", "malformed function 0: code continues after its final end at byte 0x18"),
        (b"\x00\x05\x0b", "malformed function 0: else without if at byte 0x17"),
        # memory.fill of memory 0 in a module without a memory.
        (
            b"\x00\x41\x00\x41\x00\x41\x00\xfc\x0b\x00\x0b",
            "memory index 0 out of range in function 0",
        ),
        (
            b"\x00\x08\x00\x0b",
            "unsupported instruction throw (exception handling proposal) in function 0 at byte "
            "0x17: fuel metering does not support it",
        ),
        # A br whose depth runs on past 64 bits (its LEB starts at 0x1a).
        (
            b"\x00\x02\x40\x0c" + b"\x80" * 10 + b"\x00\x0b\x0b",
            "malformed LEB128 integer in function 0 at byte 0x24",
        ),
    ],
    ids=["truncated", "after-end", "else", "memory-index", "unsupported", "leb"],
)
def test_a_body_that_cannot_be_read_is_told_where(body: bytes, message: str) -> None:
    wasm = module_with_code([body])
    assert wasm.index(body) == 0x16
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(wasm)
    assert str(info.value) == message


MAX_LOCALS = 50_000  # wasmtime's and wasmer's limit on a function's locals


@pytest.mark.parametrize(
    ("code", "added"),
    [
        ("(nop)", 2),  # the count F and a 64-bit temp T
        # Dead code is not charged, even after a br_if: no temps for its operation.
        (
            "(unreachable) (br_if 0 (i32.const 1)) "
            "(memory.fill (i32.const 0) (i32.const 0) (local.get 0))",
            2,
        ),
        (
            "(block (br_table 0 (local.get 0))) (return) "
            "(memory.fill (i32.const 0) (i32.const 0) (local.get 0))",
            2,
        ),
        (
            "(block (br_table 0 (local.get 0)) "
            "(memory.fill (i32.const 0) (i32.const 0) (local.get 0)))",
            2,
        ),
        (
            "(return_call 0 (local.get 0)) (memory.fill (i32.const 0) (i32.const 0) (local.get 0))",
            2,
        ),
        # A constant length is charged with its block: no temps.
        ("(memory.fill (i32.const 0) (i32.const 0) (i32.const 300))", 2),
        ("(memory.fill (i32.const 0) (i32.const 0) (local.get 0))", 4),  # + two i32 temps
        ("(drop (memory.grow (local.get 0)))", 4),  # a 32-bit result goes in an i32 temp
        ("(drop (memory.grow (i64.extend_i32_u (local.get 0))))", 3),  # + a 64-bit result
    ],
    ids=[
        "plain",
        "dead-code",
        "after-return",
        "after-br-table",
        "after-return-call",
        "constant-length",
        "32-bit-operand",
        "32-bit-grow",
        "64-bit-grow",
    ],
)
def test_the_counters_locals_fit_under_the_engines_limit_or_are_refused(
    code: str, added: int
) -> None:
    memory = "(memory i64 1)" if "i64" in code else "(memory 1)"

    def module(num_locals: int) -> bytes:
        # The parameter counts as a local.
        return wat(
            f"(module {memory} (func (param i32) (local {'i32 ' * (num_locals - 1)}) {code}))"
        )

    assert validates(instrument_fuel(module(MAX_LOCALS - added)))
    with pytest.raises(WasmFormatError) as info:
        instrument_fuel(module(MAX_LOCALS - added + 1))
    assert str(info.value) == "function 0 has too many locals to add the fuel counter's"


def test_memarg_flags_in_a_longer_leb_than_needed() -> None:
    """The spec lets an alignment take more LEB bytes than it needs (binary-leb128.wast):
    such flags below 0x40 name no memory index."""

    def section(section_id: int, payload: bytes) -> bytes:
        return bytes((section_id,)) + bytes((len(payload),)) + payload

    # i32.load8_u with alignment 0 as 0x80 0x00, i32.load16_u with alignment 1 as 0x81 0x00.
    code = b"\x00\x41\x00\x2d\x80\x00\x00\x41\x00\x2f\x81\x00\x00\x6a\x0b"
    wasm = b"".join(
        [
            b"\x00asm\x01\x00\x00\x00",
            section(1, b"\x01\x60\x00\x01\x7f"),
            section(3, b"\x01\x00"),
            section(5, b"\x01\x00\x01"),
            section(7, b"\x01\x01f\x00\x00"),
            section(10, b"\x01" + bytes((len(code),)) + code),
        ]
    )
    native, metered = compare(wasm, "f")
    assert metered.result == native.result == 0
    assert metered.fuel == native.fuel
