"""`instrument_fuel`: fuel metering in the module itself, for engines without native fuel.

The instrumented module counts down an exported mutable i64 global, `__wasmcli_fuel`,
holding the fuel that remains. The host stores the limit in it before a call and reads
it afterwards: consumed = limit - remaining, where a remaining below zero (an overdraw,
as wasmtime allows between its checks) counts as zero. Each function keeps the count in
a local while it runs and writes it back before calls and returns (see `metering.py`),
so after a trap of the plugin's own the global is stale, as wasmtime's count is: the
host reports that fuel as unknown. Running out of fuel stores FUEL_EXHAUSTED in the
global and executes `unreachable`: after a trap, that value alone means "out of fuel".

Costs reproduce wasmtime's `consume_fuel`: 0 for nop, drop, block, loop, unreachable,
return, else and end, 1 for every other operator, 1 per function entry, plus the
run-time-sized charges of bulk memory and table instructions and grows; and so do the
checks: on function entry, at loop headers and after run-time-sized charges, trapping
when the remaining fuel there is <= 0. So a run completes, runs out of fuel or traps at
the same point on both engines, and a completed run reports the same fuel.

The start function. Instantiation would run it before the host could set the fuel, so
the start section is removed and a new function, exported as `__wasmcli_start`, calls
the original start function. The host sets the fuel, then calls `__wasmcli_start` right
after instantiation (when exported). Being a wrapper that `call`s the start function, it
costs what wasmtime charges for running a start function during instantiation: the
start function plus 2. The wrapper is appended after all functions, so no function index
changes and the name section stays valid.
"""

from __future__ import annotations

from . import module as m
from .errors import WasmFormatError
from .info import ModuleInfo, parse
from .leb128 import encode_u
from .metering import FUEL_EXHAUSTED, MeterContext, meter_function
from .startup import startup_cost
from .valtypes import FuncType

FUEL_EXPORT = "__wasmcli_fuel"
__all__ = ["FUEL_EXHAUSTED", "FUEL_EXPORT", "START_EXPORT", "instrument_fuel"]
START_EXPORT = "__wasmcli_start"

_EXPORT_FUNC = 0x00
_EXPORT_GLOBAL = 0x03
# (global (mut i64) (i64.const 0))
_FUEL_GLOBAL = b"\x7e\x01\x42\x00\x0b"


def _vec_append(wasm: bytes, section: m.Section | None, added: list[bytes]) -> bytes:
    """The payload of a vector section with entries appended after the existing ones."""
    if section is None:
        return encode_u(len(added)) + b"".join(added)
    reader = section.reader(wasm)
    count = reader.u32()
    return encode_u(count + len(added)) + wasm[reader.pos : section.end] + b"".join(added)


def _export_entry(name: str, kind: int, index: int) -> bytes:
    raw = name.encode("utf-8")
    return encode_u(len(raw)) + raw + bytes((kind,)) + encode_u(index)


def _empty_function_type(
    wasm: bytes,
    by_id: dict[int, m.Section],
    info: ModuleInfo,
    replaced: dict[int, bytes | None],
) -> int:
    """The index of a `() -> ()` type for the wrapper, appending one where none exists."""
    empty = FuncType((), ())
    for index, existing in enumerate(info.types):
        if existing == empty:
            return index
    replaced[m.TYPE] = _vec_append(wasm, by_id.get(m.TYPE), [b"\x60\x00\x00"])
    return len(info.types)


def instrument_fuel(wasm: bytes) -> bytes:
    """Return `wasm` with fuel metering in its own code (see the module docstring).

    Raises WasmFormatError for a malformed module, one that uses an instruction this pass
    does not support (exception handling, GC), or one already instrumented.
    """
    wasm = m.as_bytes(wasm)
    parsed = parse(wasm)
    info = parsed.info
    for name in (FUEL_EXPORT, START_EXPORT):
        if info.export(name) is not None:
            raise WasmFormatError(f"module already exports {name!r}: is it instrumented already?")
    by_id = {s.id: s for s in parsed.sections if s.id != m.CUSTOM}

    fuel_global = info.num_globals
    ctx = MeterContext(
        fuel_global=fuel_global,
        memory64=tuple(mem.is_64 for mem in info.memories),
        table64=tuple(table.is_64 for table in info.tables),
    )

    exports = [_export_entry(FUEL_EXPORT, _EXPORT_GLOBAL, fuel_global)]
    replaced: dict[int, bytes | None] = {
        m.GLOBAL: _vec_append(wasm, by_id.get(m.GLOBAL), [_FUEL_GLOBAL]),
    }
    extra_bodies: list[bytes] = []
    startup = startup_cost(wasm, parsed.sections, info)
    if startup.gc_op is not None:
        raise WasmFormatError(
            f"unsupported instruction {startup.gc_op} (GC proposal) in a constant expression: "
            "fuel metering does not support it"
        )
    wrapper_entry_cost = 0
    if info.start is not None or startup.needed:
        wrapper_index = info.num_functions
        if info.start is not None:
            wrapper_type = parsed.function_type_indices[info.start]
            # no locals; call $start; end
            extra_bodies.append(b"\x00\x10" + encode_u(info.start) + b"\x0b")
            replaced[m.START] = None
        else:
            wrapper_type = _empty_function_type(wasm, by_id, info, replaced)
            extra_bodies.append(b"\x00\x0b")
        # Entering the wrapper stands for entering wasmtime's startup function (1), which
        # also charges for the constant expressions and segments it initialises.
        wrapper_entry_cost = 1 + startup.cost
        replaced[m.FUNCTION] = _vec_append(wasm, by_id.get(m.FUNCTION), [encode_u(wrapper_type)])
        exports.append(_export_entry(START_EXPORT, _EXPORT_FUNC, wrapper_index))
    replaced[m.EXPORT] = _vec_append(wasm, by_id.get(m.EXPORT), exports)
    code = by_id.get(m.CODE)
    if code is not None or extra_bodies:
        param_counts = [len(t.params) for t in info.function_types]
        replaced[m.CODE] = _meter_code(
            wasm,
            code,
            info.num_imported_functions,
            param_counts,
            ctx,
            extra_bodies,
            wrapper_entry_cost,
        )
    return m.rebuild(wasm, parsed.sections, replaced)


def _meter_code(
    wasm: bytes,
    section: m.Section | None,
    first_index: int,
    param_counts: list[int],
    ctx: MeterContext,
    extra_bodies: list[bytes],
    wrapper_entry_cost: int,
) -> bytes:
    parts: list[bytes] = []
    count = 0
    func_index = first_index
    if section is not None:
        reader = section.reader(wasm)
        count = reader.u32()
        for _ in range(count):
            size = reader.u32()
            start = reader.pos
            reader.skip(size)
            metered = meter_function(
                wasm, start, start + size, param_counts[func_index], ctx, func_index
            )
            parts.append(encode_u(len(metered)))
            parts.append(metered)
            func_index += 1
        reader.expect_end()
    for body in extra_bodies:
        metered = meter_function(body, 0, len(body), 0, ctx, func_index, wrapper_entry_cost)
        parts.append(encode_u(len(metered)))
        parts.append(metered)
        func_index += 1
        count += 1
    return encode_u(count) + b"".join(parts)
