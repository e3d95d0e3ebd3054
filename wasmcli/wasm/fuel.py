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

from dataclasses import dataclass

from . import module as m
from .errors import WasmFormatError
from .leb128 import encode_u
from .metering import FUEL_EXHAUSTED, MeterContext, meter_function
from .pipeline import (
    EXPORT_FUNC,
    EXPORT_GLOBAL,
    BodyEdit,
    FunctionSite,
    ModuleEditor,
    rewrite,
)
from .startup import startup_cost

FUEL_EXPORT = "__wasmcli_fuel"
__all__ = ["FUEL_EXHAUSTED", "FUEL_EXPORT", "START_EXPORT", "Fuel", "instrument_fuel"]
START_EXPORT = "__wasmcli_start"
# Bump when the code this pass emits changes (part of the compiled-module cache key).
# 2: the cap covers all memories and tables together. 3: the start wrapper charges what
# wasmtime charges at instantiation. 4: the count in a local, checked where wasmtime checks.
# 5: no check after a constant operand up to 128, nor after a growth that failed.
VERSION = 5

# (global (mut i64) (i64.const 0))
_FUEL_GLOBAL = b"\x7e\x01\x42\x00\x0b"


@dataclass(frozen=True)
class Fuel:
    """The fuel pass: the last of the passes (pipeline.py), so that it meters every
    operator the passes before it added, as wasmtime's native fuel would."""

    def key(self) -> tuple[object, ...]:
        return ("fuel", VERSION)

    def apply(self, module: ModuleEditor) -> None:
        info = module.info
        fuel_global = module.add_global(_FUEL_GLOBAL)
        module.add_export(FUEL_EXPORT, EXPORT_GLOBAL, fuel_global)
        ctx = MeterContext(
            fuel_global=fuel_global,
            memory64=tuple(mem.is_64 for mem in info.memories),
            table64=tuple(table.is_64 for table in info.tables),
        )
        startup = startup_cost(module.wasm, module.sections, info)
        if startup.gc_op is not None:
            raise WasmFormatError(
                f"unsupported instruction {startup.gc_op} (GC proposal) in a constant "
                "expression: fuel metering does not support it"
            )

        def meter(data: bytes, start: int, end: int, site: FunctionSite) -> BodyEdit:
            num_params = len(site.type.params)
            return BodyEdit(meter_function(data, start, end, num_params, ctx, site.index))

        module.rewrite_bodies(meter)
        if info.start is None and not startup.needed:
            return
        if info.start is not None:
            wrapper_type = module.function_type_indices[info.start]
            body = (
                b"\x00\x10" + encode_u(module.function_index(info.start)) + b"\x0b"
            )  # call $start
            module.replace_section(m.START, None)
        else:
            wrapper_type = module.function_type(b"\x00", b"\x00")
            body = b"\x00\x0b"
        # Entering the wrapper stands for entering wasmtime's startup function (1), which
        # also charges for the constant expressions and segments it initialises.
        wrapper = module.num_functions
        metered = meter_function(body, 0, len(body), 0, ctx, wrapper, 1 + startup.cost)
        module.add_function(wrapper_type, metered)
        module.add_export(START_EXPORT, EXPORT_FUNC, wrapper)


def instrument_fuel(wasm: bytes) -> bytes:
    """Return `wasm` with fuel metering in its own code (see the module docstring).

    Raises WasmFormatError for a malformed module, one that uses an instruction this pass
    does not support (exception handling, GC), or one already instrumented.
    """
    return rewrite(wasm, [Fuel()])
