"""`CallDepth`: a deterministic call-depth limit, counted in the module itself.

An engine's native stack overflows at a depth that depends on the engine, its version
and the size of each frame, so the same recursion could succeed on one engine and trap
on the other. This pass makes the limit a number of frames, the same on every engine:

- a mutable i32 global, exported as `DEPTH_EXPORT`, holds the frames left; it starts at
  the limit (compiled in: part of the pass's cache key);
- on entry, every function of the module checks it: at 0, it stores `DEPTH_EXCEEDED`
  (-1) and executes `unreachable`, so after a trap the host tells the depth limit from the
  plugin's own traps by that value alone; otherwise it takes one frame;
- every exit gives the frame back (the entry and exit code bracket every function:
  bracket.py, which also says why exceptions, GC and stack switching are refused).
A trap needs no exit: the instance is discarded. A frame counts 1 whatever its size.

Fuel. The code added to each call costs `CALL_COST` operators under wasmtime's cost model
(`ENTRY_COST` at entry, `EXIT_COST` at the exit taken). Whatever counts fuel charges them;
each entry refunds `CALL_COST` into the overhead global (pipeline.py), so a completed call
reports exactly the fuel of the plugin's own code.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bracket import Bracket, bracket_functions
from .leb128 import encode_s, encode_u
from .pipeline import EXPORT_GLOBAL, ModuleEditor

DEPTH_EXPORT = "__wasmcli_depth"
DEPTH_EXCEEDED = -1
# Bump when the code this pass emits changes (part of the compiled-module cache key).
VERSION = 1

# The normal path of the entry code: global.get, i32.eqz, if (3: the `if` body runs only
# to trap), global.get, i32.const, i32.sub, global.set (4), and the refund: global.get,
# i64.const, i64.add, global.set (4). The exit code: global.get, i32.const, i32.add,
# global.set (4). block, end and unreachable are free in wasmtime's model.
ENTRY_COST = 11
EXIT_COST = 4
CALL_COST = ENTRY_COST + EXIT_COST


@dataclass(frozen=True)
class CallDepth:
    """The pass: at most `max_depth` frames of the module's functions at once."""

    max_depth: int

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth < 2**31:
            raise ValueError(f"max_depth must be 1 to 2^31-1 (got {self.max_depth})")

    def key(self) -> tuple[object, ...]:
        return ("call-depth", VERSION, self.max_depth)

    def apply(self, module: ModuleEditor) -> None:
        # (global (mut i32) (i32.const max_depth))
        depth = module.add_global(b"\x7f\x01\x41" + encode_s(self.max_depth) + b"\x0b")
        module.add_export(DEPTH_EXPORT, EXPORT_GLOBAL, depth)
        code = _code(encode_u(depth), encode_u(module.overhead_global()))
        bracket_functions(module, lambda site: code)


def _code(depth: bytes, overhead: bytes) -> Bracket:
    """The code spliced into every function, for the module's two globals."""
    # global.get D; i32.eqz; if; i32.const -1; global.set D; unreachable; end;
    # global.get D; i32.const 1; i32.sub; global.set D;
    # global.get O; i64.const CALL_COST; i64.add; global.set O
    entry = (
        b"\x23" + depth + b"\x45\x04\x40\x41" + encode_s(DEPTH_EXCEEDED) + b"\x24" + depth
        + b"\x00\x0b"
        + b"\x23" + depth + b"\x41\x01\x6b\x24" + depth
        + b"\x23" + overhead + b"\x42" + encode_s(CALL_COST) + b"\x7c\x24" + overhead
    )  # fmt: skip
    # global.get D; i32.const 1; i32.add; global.set D
    exit_ = b"\x23" + depth + b"\x41\x01\x6a\x24" + depth
    return Bracket(entry, exit_, "the call-depth limit")
