"""One wasmtime store in which a script's modules live: instantiate, register, invoke.

The reference world runs the suite's own modules with wasmtime's native fuel; a pass
world runs a pass's outputs, either also with native fuel (passes that do not meter) or
with fuel read from the instrumented modules' own counters (`instrument_fuel`). Both
answer in the same terms, an `Outcome` with exact values and the fuel charged, so the
replay compares them directly.

Calls go through wasmtime's C API directly (`wasmtime._ffi`) rather than `Func.__call__`:
the Python API converts f32 through a C float, which quiets a signalling NaN, and has no
v128; the raw call passes and returns every number and vector as its exact bits.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import enter_wasm
from wasmtime._value import _unintern

from wasmcli.wasm import FUEL_EXPORT, OVERHEAD_EXPORT, PROFILE_MODULE, START_EXPORT
from wasmcli.wasm.profile import ENTER, EXIT

from .values import WIDTH, Value

BIG = 10**15
_KIND = {
    "i32": ffi.WASMTIME_I32.value,
    "i64": ffi.WASMTIME_I64.value,
    "f32": ffi.WASMTIME_F32.value,
    "f64": ffi.WASMTIME_F64.value,
    "v128": ffi.WASMTIME_V128.value,
    "funcref": ffi.WASMTIME_FUNCREF.value,
    "externref": ffi.WASMTIME_EXTERNREF.value,
}
_TYPE_OF_KIND = {kind: name for name, kind in _KIND.items()}


def make_engine(consume_fuel: bool) -> wasmtime.Engine:
    """Every proposal wasmtime 50 implements, so that it compiles what the suite holds."""
    config = wasmtime.Config()
    config.consume_fuel = consume_fuel
    for feature in (
        "wasm_threads",
        "wasm_tail_call",
        "wasm_reference_types",
        "wasm_simd",
        "wasm_bulk_memory",
        "wasm_multi_value",
        "wasm_multi_memory",
        "wasm_memory64",
        "wasm_relaxed_simd",
        "wasm_exceptions",
        "wasm_function_references",
        "wasm_gc",
        "wasm_wide_arithmetic",
        "wasm_custom_page_sizes",
        "shared_memory",
    ):
        setattr(config, feature, True)
    return wasmtime.Engine(config)


@dataclass
class Outcome:
    """What one instantiation or call did: values, or the trap or link error, and fuel."""

    values: list[Value] | None = None
    trap: str | None = None  # the trap code, or "link: ..." for a failed link
    fuel: int | None = None

    @property
    def completed(self) -> bool:
        return self.trap is None


def _trap_text(exc: Exception) -> str:
    if isinstance(exc, wasmtime.Trap) and exc.trap_code is not None:
        return str(exc.trap_code).rsplit(".", 1)[-1].lower()
    return str(exc).strip().splitlines()[0]


def _to_raw(store: wasmtime.Store, value: Value) -> Any:
    ty, payload = value
    if ty == "funcref":
        return wasmtime.Val.funcref(None)._new_raw(store)
    if ty == "externref":
        return wasmtime.Val.externref(payload)._new_raw(store)
    raw = ffi.wasmtime_val_t(kind=_KIND[ty])
    if ty == "v128":
        raw.of.v128 = ffi.wasmtime_v128(*payload.to_bytes(16, "little"))
    elif WIDTH[ty] == 32:
        raw.of.i32 = payload - (1 << 32) if payload >> 31 else payload
    else:
        raw.of.i64 = payload - (1 << 64) if payload >> 63 else payload
    return raw


def _from_raw(store: wasmtime.Store, raw: Any) -> Value:
    ty = _TYPE_OF_KIND.get(raw.kind)
    if ty is None:
        raise ValueError(f"value of kind {raw.kind} cannot be read")
    if ty == "v128":
        return ty, int.from_bytes(bytes(raw.of.v128), "little")
    if ty in ("i32", "f32"):
        return ty, raw.of.i32 & 0xFFFFFFFF
    if ty in ("i64", "f64"):
        return ty, raw.of.i64 & 0xFFFFFFFFFFFFFFFF
    if ty == "externref":
        # Read here rather than by Val._from_raw, which returns None for a non-null
        # reference that carries no host value (an internal reference made external).
        ref = raw.of.externref
        payload: Any = None
        if ref.store_id:
            data = ffi.wasmtime_externref_data(store._context(), ctypes.byref(ref))
            payload = _unintern(data) if data else "internal"
        ffi.wasmtime_val_unroot(ctypes.byref(raw))
        return ty, payload
    value = wasmtime.Val._from_raw(store, raw).value
    return ty, None if value is None else "func"


def call_exact(
    store: wasmtime.Store, func: wasmtime.Func, args: list[Value], num_results: int
) -> list[Value]:
    """Call `func` with exact argument bits; returns exact result bits."""
    params = (ffi.wasmtime_val_t * len(args))()
    for i, arg in enumerate(args):
        params[i] = _to_raw(store, arg)
    results = (ffi.wasmtime_val_t * num_results)()
    try:
        with enter_wasm(store) as trap:
            error = ffi.wasmtime_func_call(
                store._context(),
                ctypes.byref(func._func),
                params,
                len(args),
                results,
                num_results,
                trap,
            )
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
    finally:
        for i in range(len(args)):
            ffi.wasmtime_val_unroot(ctypes.byref(params[i]))
    return [_from_raw(store, results[i]) for i in range(num_results)]


def global_exact(store: wasmtime.Store, glob: wasmtime.Global) -> Value:
    raw = ffi.wasmtime_val_t()
    ffi.wasmtime_global_get(store._context(), ctypes.byref(glob._global), ctypes.byref(raw))
    return _from_raw(store, raw)


def _define_spectest(store: wasmtime.Store, linker: wasmtime.Linker) -> None:
    """The host module every spec script may import (the reference interpreter's)."""
    i32, i64 = wasmtime.ValType.i32(), wasmtime.ValType.i64()
    f32, f64 = wasmtime.ValType.f32(), wasmtime.ValType.f64()
    prints = {
        "print": [],
        "print_i32": [i32],
        "print_i64": [i64],
        "print_f32": [f32],
        "print_f64": [f64],
        "print_i32_f32": [i32, f32],
        "print_f64_f64": [f64, f64],
    }
    for name, params in prints.items():
        func = wasmtime.Func(store, wasmtime.FuncType(params, []), lambda *_: None)
        linker.define(store, "spectest", name, func)
    for name, ty, value in (
        ("global_i32", i32, wasmtime.Val.i32(666)),
        ("global_i64", i64, wasmtime.Val.i64(666)),
        ("global_f32", f32, wasmtime.Val.f32(666.6)),
        ("global_f64", f64, wasmtime.Val.f64(666.6)),
    ):
        glob = wasmtime.Global(store, wasmtime.GlobalType(ty, False), value)
        linker.define(store, "spectest", name, glob)
    # Tables and memories come from a module, the one way to make a 64-bit table here.
    host = wasmtime.Module(
        store.engine,
        '(module (table (export "table") 10 20 funcref) (table (export "table64") i64 10 20 '
        'funcref) (memory (export "memory") 1 2))',
    )
    linker.define_instance(store, "spectest", wasmtime.Instance(store, host, []))


def _define_profile_events(store: wasmtime.Store, linker: wasmtime.Linker) -> None:
    """The two functions the profiling pass's output imports (wasm/profile.py), doing
    nothing: the replay compares what the module computes and the fuel it is charged, and
    a host function costs no fuel (engines/profiler.py keeps the stack in wasmcli)."""
    i32 = wasmtime.ValType.i32()
    for name, params in ((ENTER, [i32]), (EXIT, [])):
        func = wasmtime.Func(store, wasmtime.FuncType(params, []), lambda *_: None)
        linker.define(store, PROFILE_MODULE, name, func)


@dataclass
class World:
    """One store: the instances of one script, as one side of the comparison sees them."""

    metered: bool  # fuel from the instances' own counters instead of native fuel
    engine: wasmtime.Engine
    store: wasmtime.Store = field(init=False)
    linker: wasmtime.Linker = field(init=False)
    counters: list[wasmtime.Global] = field(default_factory=list)
    # The fuel an instrumenting pass's own code cost, which it refunds (wasm/pipeline.py):
    # one global per instance that has one, reset before each command.
    refunds: list[wasmtime.Global] = field(default_factory=list)
    instances: dict[str, wasmtime.Instance] = field(default_factory=dict)
    last: wasmtime.Instance | None = None
    # A module that imports a table failed in the middle of its instantiation: functions of
    # it may sit in that table with no instance (and, instrumented, no reachable counter).
    orphans: bool = False

    def __post_init__(self) -> None:
        self.store = wasmtime.Store(self.engine)
        self.linker = wasmtime.Linker(self.engine)
        self.linker.allow_shadowing = True
        _define_spectest(self.store, self.linker)
        _define_profile_events(self.store, self.linker)

    def compile(self, wasm: bytes) -> wasmtime.Module:
        """Compile (and so validate); raises WasmtimeError."""
        return wasmtime.Module(self.engine, wasm)

    # -- fuel ------------------------------------------------------------------------------

    def _begin(self) -> None:
        for refund in self.refunds:
            refund.set_value(self.store, wasmtime.Val.i64(0))
        if self.metered:
            for counter in self.counters:
                counter.set_value(self.store, wasmtime.Val.i64(BIG))
        else:
            self.store.set_fuel(BIG)

    def _consumed(self) -> int:
        refunded = sum(refund.value(self.store) for refund in self.refunds)
        if self.metered:
            return sum(BIG - counter.value(self.store) for counter in self.counters) - refunded
        return BIG - self.store.get_fuel() - refunded

    # -- commands --------------------------------------------------------------------------

    def instantiate(self, module: wasmtime.Module) -> tuple[Outcome, wasmtime.Instance | None]:
        """Instantiate (running the start function, or the instrumented start wrapper)."""
        self._begin()
        try:
            instance = self.linker.instantiate(self.store, module)
        except wasmtime.Trap as exc:
            self.orphans |= any(isinstance(i.type, wasmtime.TableType) for i in module.imports)
            return Outcome(trap=_trap_text(exc)), None
        except wasmtime.WasmtimeError as exc:
            return Outcome(trap=f"link: {_trap_text(exc)}"), None
        exports = instance.exports(self.store)
        refund = exports.get(OVERHEAD_EXPORT)
        if isinstance(refund, wasmtime.Global):
            # It started at 0 and holds what a start function's calls refunded so far.
            self.refunds.append(refund)
        if self.metered:
            counter = exports[FUEL_EXPORT]
            assert isinstance(counter, wasmtime.Global)
            counter.set_value(self.store, wasmtime.Val.i64(BIG))
            self.counters.append(counter)
            start = exports.get(START_EXPORT)
            if start is not None:
                assert isinstance(start, wasmtime.Func)
                try:
                    call_exact(self.store, start, [], 0)
                except wasmtime.Trap as exc:
                    # The instance stays counted: its functions may have been placed in
                    # an imported table before the start function trapped.
                    return Outcome(trap=_trap_text(exc), fuel=self._consumed()), None
        return Outcome(values=[], fuel=self._consumed()), instance

    def bind(self, instance: wasmtime.Instance | None, name: str | None) -> None:
        """Make `instance` the script's current module (and `name`'s); None when this side
        has no instance of it (refused by a pass, or not compiled)."""
        self.last = instance
        if name is not None:
            if instance is None:
                self.instances.pop(name, None)
            else:
                self.instances[name] = instance

    def instance(self, name: str | None) -> wasmtime.Instance | None:
        return self.last if name is None else self.instances.get(name)

    def register(self, as_name: str, name: str | None) -> bool:
        instance = self.instance(name)
        if instance is None:
            return False
        self.linker.define_instance(self.store, as_name, instance)
        return True

    def invoke(
        self, instance: wasmtime.Instance, field_name: str, args: list[Value], num_results: int
    ) -> Outcome:
        func = instance.exports(self.store)[field_name]
        assert isinstance(func, wasmtime.Func)
        self._begin()
        try:
            values = call_exact(self.store, func, args, num_results)
        except wasmtime.Trap as exc:
            return Outcome(trap=_trap_text(exc), fuel=self._consumed())
        return Outcome(values=values, fuel=self._consumed())

    def get(self, instance: wasmtime.Instance, field_name: str) -> Outcome:
        glob = instance.exports(self.store)[field_name]
        assert isinstance(glob, wasmtime.Global)
        return Outcome(values=[global_exact(self.store, glob)], fuel=0)
