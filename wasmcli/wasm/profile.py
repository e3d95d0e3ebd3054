"""`FuelProfile`: entry and exit of every function reported to the host, for exact profiles.

The pass imports two host functions, `PROFILE_MODULE.enter(i32)` and `.exit()`, and
brackets every function the module defines (bracket.py), as the call-depth pass does:
- on entry: `i32.const <index>; call enter`, with the function's index in the plugin's
  own index space (before the imports this pass adds);
- on every exit (the body wrapped in a block whose end every branch out of it passes,
  and before each `return` and tail call): `call exit`.

The host keeps the shadow stack and reads the fuel counted at each event: a call flushes
the count where the host can read it, on both engines (wasmtime's native count; the fuel
pass's global, which it stores before every call). Host functions cost no fuel. So the
fuel between two events is exactly what the plugin's code ran between them, plus what the
code wasmcli adds costs, which is known statically:
- before the enter event the callee has been charged `ENTER_PRELUDE`: wasmtime's 1 for
  entering a function, and the 2 operators of `i32.const; call enter`;
- the entry then refunds `REFUND` (those 2, the 1 of `call exit` taken later, and the 4
  of the refund itself) into the overhead global (pipeline.py), as the call-depth pass
  refunds its own; so a completed call reports the fuel of the plugin's code alone.
The host-side accounting is engines/profiler.py.

The pass comes after the call-depth pass (whose code it brackets: that code's fuel and
refund are then in the same frame) and before the fuel pass (which meters its code).
"""

from __future__ import annotations

from dataclasses import dataclass

from .bracket import Bracket, bracket_functions
from .leb128 import encode_s, encode_u
from .pipeline import FunctionSite, ModuleEditor

PROFILE_MODULE = "__wasmcli_profile"
ENTER, EXIT = "enter", "exit"
# Bump when the code this pass emits changes (part of the compiled-module cache key).
VERSION = 1
# What the callee has been charged when its enter event reaches the host: 1 for entering
# a function, i32.const and call.
ENTER_PRELUDE = 3
# The added code's cost per call: i32.const, call (entry), global.get, i64.const, i64.add,
# global.set (the refund), call (exit).
REFUND = 7
# Of those, what runs at the exit (`call exit`): a frame a trap leaves open never runs it.
EXIT_EVENT_COST = 1


@dataclass(frozen=True)
class FuelProfile:
    """The profiling pass (see the module docstring)."""

    def key(self) -> tuple[object, ...]:
        return ("fuel-profile", VERSION)

    def apply(self, module: ModuleEditor) -> None:
        enter = module.import_function(
            PROFILE_MODULE, ENTER, module.function_type(b"\x01\x7f", b"\x00")
        )
        exit_ = module.import_function(PROFILE_MODULE, EXIT, module.function_type(b"\x00", b"\x00"))
        overhead = encode_u(module.overhead_global())
        refund = b"\x23" + overhead + b"\x42" + encode_s(REFUND) + b"\x7c\x24" + overhead
        call_enter = b"\x10" + encode_u(enter)
        exit_code = b"\x10" + encode_u(exit_)

        def bracket(site: FunctionSite) -> Bracket:
            entry = b"\x41" + encode_s(site.index) + call_enter + refund
            return Bracket(entry, exit_code, "the profiler")

        bracket_functions(module, bracket)
