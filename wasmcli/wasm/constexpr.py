"""Constant expressions: global initialisers, segment offsets, element items, table
initialisers.

Every instruction a constant expression may hold is read, extended constants and the GC
proposal's allocations included, so that every caller sees the same module: the reader
describes GC modules, and the fuel pass refuses them by name. What a caller learns is the
shape that matters for fuel: how many operators the expression has, and whether it is a
single constant wasmtime folds away at compile time.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import WasmFormatError
from .opcodes import opcode_text
from .reader import Reader

_NUMERIC_CONSTS = frozenset((0x41, 0x42, 0x43, 0x44))
_GLOBAL_GET = 0x23
_REF_NULL = 0xD0
_REF_FUNC = 0xD2
# Extended constants: i32/i64 add, sub, mul.
_ARITHMETIC = frozenset((0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E))
# GC instructions allowed in constant expressions: sub-opcode -> (name, index immediates).
GC_CONST_OPS: dict[int, tuple[str, int]] = {
    0x00: ("struct.new", 1),
    0x01: ("struct.new_default", 1),
    0x06: ("array.new", 1),
    0x07: ("array.new_default", 1),
    0x08: ("array.new_fixed", 2),
    0x1A: ("any.convert_extern", 0),
    0x1B: ("extern.convert_any", 0),
    0x1C: ("ref.i31", 0),
}


class ConstExpr(NamedTuple):
    """A constant expression's shape (a named tuple: one is read per global and segment
    item, and a tuple is the cheapest immutable record to make)."""

    ops: int  # operators before the final `end`
    first_op: int  # opcode of the first operator (0x0B for an empty expression)
    gc_op: str | None = None  # the first GC instruction, by name
    value: int | None = None  # of a single i32.const / i64.const (unsigned)
    global_index: int | None = None  # the highest global a `global.get` in it reads

    @property
    def is_numeric_const(self) -> bool:
        """A single i32/i64/f32/f64/v128 constant."""
        return self.ops == 1 and (self.first_op in _NUMERIC_CONSTS or self.first_op == 0xFD)

    @property
    def is_ref_func(self) -> bool:
        return self.ops == 1 and self.first_op == _REF_FUNC


def read_const_expr(reader: Reader) -> ConstExpr:
    """Read a constant expression up to and including its `end`."""
    ops = 0
    first_op = -1
    gc_op: str | None = None
    value: int | None = None
    global_index: int | None = None
    while True:
        start = reader.pos
        op = reader.u8()
        if first_op < 0:
            first_op = op
        if op == 0x0B:
            return ConstExpr(ops, first_op, gc_op, value if ops == 1 else None, global_index)
        ops += 1
        if op == 0x41 or op == 0x42:
            value = reader.signed(32 if op == 0x41 else 64)
            value &= 0xFFFFFFFF if op == 0x41 else 0xFFFFFFFFFFFFFFFF
        elif op == _GLOBAL_GET:
            index = reader.u32()
            global_index = index if global_index is None else max(global_index, index)
        elif op in (_REF_NULL, _REF_FUNC):
            reader.skip_leb()
        elif op == 0x43:
            reader.skip(4)
        elif op == 0x44:
            reader.skip(8)
        elif op == 0xFD and reader.u32() == 0x0C:  # v128.const
            reader.skip(16)
        elif op == 0xFB:
            sub = reader.u32()
            spec = GC_CONST_OPS.get(sub)
            if spec is None:
                raise _not_constant(reader, start)
            gc_op = gc_op or spec[0]
            for _ in range(spec[1]):
                reader.u32()
        elif op not in _ARITHMETIC:
            raise _not_constant(reader, start)


def skip_const_expr(reader: Reader) -> None:
    read_const_expr(reader)


def _not_constant(reader: Reader, start: int) -> WasmFormatError:
    return WasmFormatError(
        f"unsupported instruction {opcode_text(reader.data, start)} in a constant expression "
        f"in {reader.what} at byte {start:#x}"
    )
