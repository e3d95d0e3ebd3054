"""The bytecode passes held to the suite, and how each one's output is run.

A pass that meters fuel in the module (`instrument_fuel`) runs on wasmtime without native
fuel and reports what its own counters charged; any other pass runs with native fuel like
the original. A pass that instruments calls (the call-depth limit) refunds what its own
code costs (wasm/pipeline.py), and the fuel compared is what is left. Add a pass here
when it lands: `make spec` and the fast slice pick it up.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from wasmcli.wasm import (
    CallDepth,
    Fuel,
    FuelProfile,
    ResourceLimit,
    ResourcesAboveLimit,
    WasmFormatError,
    apply_passes,
    instrument_fuel,
    limit_resources,
)

# Refusing a module is a pass's right (one line, counted by reason); anything else it
# raises is a crash.
REFUSALS = (WasmFormatError, ResourcesAboveLimit)

# A cap above anything a module can declare: every memory and table keeps the growth it
# declared (or the most its index type allows), so results must not change.
_SEMANTICS_PRESERVING_BYTES = 1 << 80
# The largest call-depth limit: every engine's native stack overflows first, so a runaway
# recursion still traps as the suite expects ("call stack exhausted"), while every call
# runs the pass's entry check and exit code.
_SEMANTICS_PRESERVING_DEPTH = 2**31 - 1


@dataclass(frozen=True)
class Pass:
    name: str
    transform: Callable[[bytes], bytes]
    metered: bool  # True: fuel comes from the module's own counters, not wasmtime's
    refunds: bool = False  # True: its code refunds what it costs (the overhead global)


PASSES: tuple[Pass, ...] = (
    Pass("instrument_fuel", instrument_fuel, metered=True),
    Pass(
        "limit_resources",
        lambda wasm: limit_resources(wasm, _SEMANTICS_PRESERVING_BYTES),
        metered=False,
    ),
    Pass(
        "call_depth",
        lambda wasm: apply_passes(wasm, [CallDepth(_SEMANTICS_PRESERVING_DEPTH)]).wasm,
        metered=False,
        refunds=True,
    ),
    # `run --profile`: its output imports the two event functions, which the spec
    # worlds provide as host functions that do nothing (world.py).
    Pass(
        "profile",
        lambda wasm: apply_passes(wasm, [FuelProfile()]).wasm,
        metered=False,
        refunds=True,
    ),
    # What wasmer compiles: the passes composed, the fuel pass metering the depth code.
    Pass(
        "limits+call_depth+fuel",
        lambda wasm: (
            apply_passes(
                wasm,
                [
                    ResourceLimit(_SEMANTICS_PRESERVING_BYTES),
                    CallDepth(_SEMANTICS_PRESERVING_DEPTH),
                    Fuel(),
                ],
            ).wasm
        ),
        metered=True,
        refunds=True,
    ),
    # What wasmer compiles for `run --profile`: the profiling pass brackets the depth
    # code, and the fuel pass meters both.
    Pass(
        "limits+call_depth+profile+fuel",
        lambda wasm: (
            apply_passes(
                wasm,
                [
                    ResourceLimit(_SEMANTICS_PRESERVING_BYTES),
                    CallDepth(_SEMANTICS_PRESERVING_DEPTH),
                    FuelProfile(),
                    Fuel(),
                ],
            ).wasm
        ),
        metered=True,
        refunds=True,
    ),
)

_PROPOSAL = re.compile(r"\(([^()]*?) proposal\)")


def refusal_reason(exc: Exception) -> str:
    """A short reason for a refusal, for the per-pass counts ("GC", "exception handling")."""
    text = str(exc)
    found = _PROPOSAL.search(text)
    if found:
        return found.group(1)
    if isinstance(exc, ResourcesAboveLimit):
        return "memory above the cap"
    return re.sub(r" (at|in) .*$", "", text)[:60]
