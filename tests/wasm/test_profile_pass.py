"""FuelProfile, the profiling pass: the events it reports, and what importing its two
functions does to the module (every defined function moves up two indices).

`make spec` holds the pass to the whole spec suite (results and fuel); these cases pin
what the suite does not say: which function each event names, in which order.
"""

from __future__ import annotations

import wasmtime

from wasmcli.wasm import PROFILE_MODULE, FuelProfile, apply_passes
from wasmcli.wasm.profile import ENTER, EXIT

from .harness import wat

# Function 0 is imported; 1 is the start function; 2 is called directly, 3 through the
# table, 4 by a tail call, and 2 again by ref.func from a global.
MODULE = """
(module
  (import "env" "seen" (func $seen (param i32)))
  (type $v (func (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $via_table $tail)
  (global $ref funcref (ref.func $direct))
  (global $started (mut i32) (i32.const 0))
  (start $init)
  (func $init (global.set $started (i32.const 7)))
  (func $direct (result i32) (i32.const 40))
  (func $via_table (result i32) (i32.const 1))
  (func $tail (result i32) (return_call $direct))
  (func (export "run") (result i32)
    (call $seen (global.get $started))
    (i32.add
      (i32.add (call $direct) (call_indirect (type $v) (i32.const 0)))
      (call_indirect (type $v) (i32.const 1))))
  (elem declare func $direct))
"""


# (module, name, number of i32 parameters, what the host does)
Import = tuple[str, str, int, object]


def _run(wasm: bytes, imports: list[Import]) -> int:
    """`run()` of the module on a fresh engine (a FuncType belongs to one engine)."""
    config = wasmtime.Config()
    config.wasm_tail_call = True
    config.wasm_function_references = True
    config.wasm_gc = True
    engine = wasmtime.Engine(config)
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    for module, name, params, impl in imports:
        ty = wasmtime.FuncType([wasmtime.ValType.i32()] * params, [])
        linker.define_func(module, name, ty, impl)  # type: ignore[arg-type]
    instance = linker.instantiate(store, wasmtime.Module(engine, wasm))
    run = instance.exports(store).get("run")
    return run(store) if isinstance(run, wasmtime.Func) else 0  # type: ignore[no-any-return]


def test_events_name_the_plugins_own_functions_in_call_order() -> None:
    events: list[object] = []
    seen: list[int] = []
    imports: list[Import] = [
        ("env", "seen", 1, seen.append),
        (PROFILE_MODULE, ENTER, 1, events.append),
        (PROFILE_MODULE, EXIT, 0, lambda: events.append("exit")),
    ]
    original = wat(MODULE)
    assert _run(original, imports[:1]) == 40 + 1 + 40
    profiled = apply_passes(original, [FuelProfile()]).wasm
    seen.clear()
    assert _run(profiled, imports) == 40 + 1 + 40
    # The start function ran (its global reached `run`), through its own indices.
    assert seen == [7]
    assert events == [
        1, "exit",  # start: $init
        5,  # run
        2, "exit",  # $direct
        3, "exit",  # $via_table, through the element segment
        4, "exit",  # $tail, which leaves for $direct by a tail call
        2, "exit",
        "exit",  # run
    ]  # fmt: skip


def test_the_exit_import_gets_a_plain_type_where_the_module_has_other_unit_types() -> None:
    # `(func)` inside a recursion group, and as a subtype, are other types than the
    # host's `(func)`: the pass's import must not use them (it did: "incompatible import
    # type for `__wasmcli_profile::exit`").
    module = """
    (module
      (rec (type $unit (func)) (type (struct)))
      (type $open (sub (func)))
      (func (export "run") (result i32) (call $a) (call $b) (i32.const 3))
      (func $a (type $unit))
      (func $b (type $open)))
    """
    calls: list[object] = []
    imports: list[Import] = [
        (PROFILE_MODULE, ENTER, 1, calls.append),
        (PROFILE_MODULE, EXIT, 0, lambda: calls.append("exit")),
    ]
    profiled = apply_passes(wat(module), [FuelProfile()]).wasm
    assert _run(profiled, imports) == 3
    assert calls == [0, 1, "exit", 2, "exit", "exit"]
