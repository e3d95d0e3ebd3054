"""The instruction table: how long each instruction's immediates are, and what it costs.

Instruction decoding here is shape-only: the fuel pass never needs an immediate's value
(except a few indices), only where the instruction ends, so every opcode maps to a small
"kind" that says how to step over it. Prefixed opcodes (0xFC misc, 0xFD SIMD, 0xFE
threads) have their own tables keyed by the LEB128 sub-opcode.

Cost follows wasmtime's `consume_fuel`: nop, drop, block, loop, unreachable, return, else
and end are free, every other operator costs 1 (see `fuel.py` for the dynamic extras).
"""

from __future__ import annotations

from .errors import WasmFormatError
from .leb128 import decode_s, decode_u

# Kinds of one-byte opcodes.
PLAIN = 0  # no immediates, cost 1
FREE = 1  # nop, drop: no immediates, cost 0
LEB = 2  # one LEB128 immediate, cost 1
CONST = 3  # i32.const / i64.const
MEMARG = 4  # loads and stores
F32 = 5
F64 = 6
BLOCK = 7
LOOP = 8
IF = 9
ELSE = 10
END = 11
BR = 12
BR_IF = 13  # also br_on_null / br_on_non_null: a conditional branch
BR_TABLE = 14
RETURN = 15
UNREACHABLE = 16
CALL_INDIRECT = 17
RETURN_CALL = 18  # return_call, return_call_ref: one index, ends the block
RETURN_CALL_INDIRECT = 19
SELECT_T = 20
MEMORY_GROW = 21
PREFIX_FC = 22
PREFIX_FD = 23
PREFIX_FE = 24
UNSUPPORTED = 25
UNKNOWN = 26

KIND: list[int] = [UNKNOWN] * 256


def _set(kind: int, *opcodes: int) -> None:
    for op in opcodes:
        KIND[op] = kind


_set(UNREACHABLE, 0x00)
_set(FREE, 0x01, 0x1A)
_set(BLOCK, 0x02)
_set(LOOP, 0x03)
_set(IF, 0x04)
_set(ELSE, 0x05)
_set(END, 0x0B)
_set(BR, 0x0C)
_set(BR_IF, 0x0D, 0xD5, 0xD6)
_set(BR_TABLE, 0x0E)
_set(RETURN, 0x0F)
# call, call_ref, local.get/set/tee, global.get/set, table.get/set, memory.size,
# ref.null (an s33 heap type: still one LEB128), ref.func
_set(LEB, 0x10, 0x14, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3F, 0xD0, 0xD2)
_set(CALL_INDIRECT, 0x11)
_set(RETURN_CALL, 0x12, 0x15)
_set(RETURN_CALL_INDIRECT, 0x13)
_set(PLAIN, 0x1B, 0xD1, 0xD3, 0xD4, *range(0x45, 0xC5))
_set(SELECT_T, 0x1C)
_set(MEMARG, *range(0x28, 0x3F))
_set(MEMORY_GROW, 0x40)
_set(CONST, 0x41, 0x42)
_set(F32, 0x43)
_set(F64, 0x44)
_set(PREFIX_FC, 0xFC)
_set(PREFIX_FD, 0xFD)
_set(PREFIX_FE, 0xFE)

# Opcodes of proposals the fuel pass refuses rather than miscounts. Exceptions unwind
# through calls, which would break "a block charged on entry runs to its end"; GC
# instructions have run-time-sized costs in wasmtime that are not modelled here.
UNSUPPORTED_OPS: dict[int, tuple[str, str]] = {
    0x06: ("try", "legacy exception handling"),
    0x07: ("catch", "legacy exception handling"),
    0x08: ("throw", "exception handling"),
    0x09: ("rethrow", "legacy exception handling"),
    0x0A: ("throw_ref", "exception handling"),
    0x18: ("delegate", "legacy exception handling"),
    0x19: ("catch_all", "legacy exception handling"),
    0x1F: ("try_table", "exception handling"),
    0xFB: ("0xFB-prefixed", "GC"),
    **{op: (f"0x{op:02X}", "stack switching") for op in range(0xE0, 0xE7)},
}
for _op in UNSUPPORTED_OPS:
    KIND[_op] = UNSUPPORTED

# 0xFC sub-opcodes: (number of LEB128 immediates, dynamic-cost class or "").
FC_OPS: dict[int, tuple[int, str]] = {
    **{sub: (0, "") for sub in range(0x00, 0x08)},  # iNN.trunc_sat_fMM_{s,u}
    0x08: (2, "memory.init"),  # data index, memory index
    0x09: (1, ""),  # data.drop
    0x0A: (2, "memory.copy"),  # destination memory, source memory
    0x0B: (1, "memory.fill"),
    0x0C: (2, "table.init"),  # element index, table index
    0x0D: (1, ""),  # elem.drop
    0x0E: (2, "table.copy"),  # destination table, source table
    0x0F: (1, "table.grow"),
    0x10: (1, ""),  # table.size
    0x11: (1, "table.fill"),
    **{sub: (0, "") for sub in range(0x13, 0x17)},  # wide arithmetic: add128 ... mul_wide_u
}

# Prefixed instructions of proposals the fuel pass refuses, by (prefix, sub-opcode range).
UNSUPPORTED_PREFIXED: dict[int, tuple[range, str, str]] = {
    0xFC: (range(0x12, 0x13), "memory.discard", "memory control"),
    0xFE: (range(0x4F, 0x80), "shared global/table atomics", "shared-everything threads"),
}

# 0xFD (SIMD) immediate shapes.
SIMD_NONE = 0
SIMD_MEMARG = 1
SIMD_BYTES16 = 2  # v128.const, i8x16.shuffle
SIMD_LANE = 3
SIMD_MEMARG_LANE = 4

_SIMD_UNASSIGNED = {
    0x9A,
    0xA2,
    0xA5,
    0xA6,
    0xAF,
    0xB0,
    0xB2,
    0xB3,
    0xB4,
    0xBB,
    0xC2,
    0xC5,
    0xC6,
    0xCF,
    0xD0,
    0xD2,
    0xD3,
    0xD4,
    0xE2,
    0xEE,
}
FD_OPS: dict[int, int] = {sub: SIMD_NONE for sub in range(0x00, 0x114)}
for _sub in _SIMD_UNASSIGNED:
    del FD_OPS[_sub]
for _sub in (*range(0x00, 0x0C), 0x5C, 0x5D):
    FD_OPS[_sub] = SIMD_MEMARG
FD_OPS[0x0C] = SIMD_BYTES16
FD_OPS[0x0D] = SIMD_BYTES16
for _sub in range(0x15, 0x23):
    FD_OPS[_sub] = SIMD_LANE
for _sub in range(0x54, 0x5C):
    FD_OPS[_sub] = SIMD_MEMARG_LANE

# 0xFE (threads): atomic.fence has one reserved zero byte, the rest a memarg.
FE_FENCE = 0x03
FE_MEMARG_OPS = frozenset((0x00, 0x01, 0x02, *range(0x10, 0x4F)))


def skip_prefixed(body: bytes, start: int) -> int | None:
    """The end of the SIMD (0xFD) or threads (0xFE) instruction at `start`, or None when
    its sub-opcode is unknown."""
    sub, p = decode_u(body, start + 1)
    if body[start] == 0xFD:
        shape = FD_OPS.get(sub)
        if shape is None:
            return None
        if shape == SIMD_MEMARG or shape == SIMD_MEMARG_LANE:
            p = _skip_memarg(body, p)
            return p + 1 if shape == SIMD_MEMARG_LANE else p
        if shape == SIMD_BYTES16:
            return p + 16
        return p + 1 if shape == SIMD_LANE else p
    if sub == FE_FENCE:
        return p + 1
    if sub in FE_MEMARG_OPS:
        return _skip_memarg(body, p)
    return None


def _skip_memarg(body: bytes, p: int) -> int:
    flags, p = decode_u(body, p)
    if flags & 0x40:  # a memory index follows
        _, p = decode_u(body, p)
    _, p = decode_u(body, p)
    return p


def opcode_text(body: bytes, start: int) -> str:
    """ "0x41" or "0xFC 0x99": the opcode at `start`, for error messages."""
    op = body[start]
    if op in (0xFB, 0xFC, 0xFD, 0xFE):
        try:
            sub, _ = decode_u(body, start + 1)
        except (IndexError, WasmFormatError):
            return f"0x{op:02X}"
        return f"0x{op:02X} 0x{sub:02X}"
    return f"0x{op:02X}"


def const_value(body: bytes, start: int) -> int:
    """The signed value of the i32.const / i64.const instruction at `start`."""
    value, _ = decode_s(body, start + 1)
    return value
