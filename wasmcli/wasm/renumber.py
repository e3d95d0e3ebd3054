"""Shifting function indices: what importing a function into a module takes.

Imported functions come first in the function index space, so a pass that imports one
(`ModuleEditor.import_function`) moves every function the module defines up by one.
Everything that names a defined function by index follows: `call`, `return_call` and
`ref.func` in bodies and constant expressions, element segments, exports, the start
section, and the function, local and label names of the name section.

Bodies are rewritten in place: an index is written back with as many bytes as it had
(LEB128 allows padding) unless the new one needs more, and the body's splices say where
bytes were inserted, so that offsets still map back to the plugin's own bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from . import opcodes as o
from .errors import WasmFormatError
from .leb128 import LebError, decode_u, encode_u
from .reader import Reader

_CALL, _RETURN_CALL, _REF_FUNC = 0x10, 0x12, 0xD2

Shift = Callable[[int], int]


def padded_u(value: int, width: int) -> bytes:
    """`value` as unsigned LEB128 in at least `width` bytes (padded with 0x80 groups)."""
    out = bytearray(encode_u(value))
    if len(out) >= width:
        return bytes(out)
    out[-1] |= 0x80
    out += b"\x80" * (width - len(out) - 1) + b"\x00"
    return bytes(out)


def _skip(body: bytes, p: int) -> int:
    while body[p] & 0x80:
        p += 1
    return p + 1


def function_index_sites(body: bytes, p: int, end: int, where: str) -> list[int]:
    """Where the function-index immediates of `call`, `return_call` and `ref.func` start
    in body[p:end] (the code after the locals)."""
    kind = o.KIND
    sites: list[int] = []
    try:
        while p < end:
            op = body[p]
            k = kind[op]
            if op == _CALL or op == _RETURN_CALL or op == _REF_FUNC:
                sites.append(p + 1)
                p = _skip(body, p + 1)
            elif k == o.PLAIN or k == o.FREE or k == o.END or k == o.ELSE or k == o.UNREACHABLE:
                p += 1
            elif k == o.RETURN:
                p += 1
            elif k == o.LEB or k == o.CONST or k == o.BR or k == o.BR_IF or k == o.RETURN_CALL:
                p = _skip(body, p + 1)
            elif k == o.MEMARG:
                flags, p = decode_u(body, p + 1)
                if flags & 0x40:
                    p = _skip(body, p)
                p = _skip(body, p)
            elif k == o.BLOCK or k == o.LOOP or k == o.IF:
                b = body[p + 1]
                if b == 0x63 or b == 0x64:
                    p = _skip(body, p + 2)
                elif 0x40 <= b < 0x80:
                    p += 2
                else:
                    p = _skip(body, p + 1)
            elif k == o.CALL_INDIRECT or k == o.RETURN_CALL_INDIRECT:
                p = _skip(body, _skip(body, p + 1))
            elif k == o.BR_TABLE:
                count, p = decode_u(body, p + 1)
                for _ in range(count + 1):
                    p = _skip(body, p)
            elif k == o.F32:
                p += 5
            elif k == o.F64:
                p += 9
            elif k == o.SELECT_T:
                count, p = decode_u(body, p + 1)
                for _ in range(count):
                    b = body[p]
                    p = _skip(body, p + 1) if b == 0x63 or b == 0x64 else p + 1
            elif k == o.MEMORY_GROW:
                p = _skip(body, p + 1)
            elif k == o.PREFIX_FC:
                sub, q = decode_u(body, p + 1)
                spec = o.FC_OPS.get(sub)
                if spec is None:
                    raise WasmFormatError(f"unknown opcode {o.opcode_text(body, p)} in {where}")
                for _ in range(spec[0]):
                    q = _skip(body, q)
                p = q
            elif k == o.PREFIX_FD or k == o.PREFIX_FE:
                after = o.skip_prefixed(body, p)
                if after is None:
                    raise WasmFormatError(f"unknown opcode {o.opcode_text(body, p)} in {where}")
                p = after
            elif k == o.UNSUPPORTED:
                name, proposal = o.UNSUPPORTED_OPS[op]
                raise WasmFormatError(
                    f"unsupported instruction {name} ({proposal} proposal) in {where}: "
                    "function indices cannot be shifted"
                )
            else:
                raise WasmFormatError(f"unknown opcode {o.opcode_text(body, p)} in {where}")
    except IndexError:
        raise WasmFormatError(f"truncated module: {where} ends inside an instruction") from None
    except LebError as exc:
        raise WasmFormatError(f"malformed LEB128 integer in {where} at byte {exc.pos:#x}") from None
    return sites


def shift_body(
    data: bytes, start: int, end: int, code_start: int, shift: Shift, where: str
) -> tuple[bytes, tuple[tuple[int, int], ...]]:
    """The body data[start:end] with every function index shifted, and its splices
    (position in the input body, bytes inserted) where an index grew longer."""
    parts: list[bytes] = []
    splices: list[tuple[int, int]] = []
    last = start
    for site in function_index_sites(data, code_start, end, where):
        index, after = decode_u(data, site)
        width = after - site
        new = padded_u(shift(index), width)
        parts += (data[last:site], new)
        if len(new) > width:
            splices.append((after - start, len(new) - width))
        last = after
    parts.append(data[last:end])
    return b"".join(parts), tuple(splices)


def shift_const_expr(reader: Reader, shift: Shift) -> bytes:
    """A constant expression read from `reader` (through its `end`), `ref.func` shifted."""
    out = bytearray()
    while True:
        start = reader.pos
        op = reader.u8()
        if op == 0x0B:
            out.append(op)
            return bytes(out)
        if op == _REF_FUNC:
            out.append(op)
            out += encode_u(shift(reader.u32()))
            continue
        if op in (0x41, 0x42):
            reader.signed(32 if op == 0x41 else 64)
        elif op == 0x23 or op == 0xD0:  # global.get, ref.null
            reader.skip_leb()
        elif op == 0x43:
            reader.skip(4)
        elif op == 0x44:
            reader.skip(8)
        elif op == 0xFD:
            if reader.u32() != 0x0C:
                raise WasmFormatError(f"unsupported constant expression in {reader.what}")
            reader.skip(16)
        elif op not in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):
            refused = o.UNSUPPORTED_OPS.get(op)
            name = o.opcode_text(reader.data, start)
            if refused is not None:  # GC's constant instructions, say
                name = f"{name} ({refused[1]} proposal)"
            raise WasmFormatError(
                f"unsupported instruction {name} in a constant expression in {reader.what}: "
                "function indices cannot be shifted"
            )
        out += reader.data[start : reader.pos]


def shift_exports(reader: Reader, shift: Shift) -> bytes:
    out = bytearray(encode_u(count := reader.u32()))
    for _ in range(count):
        start = reader.pos
        reader.name()
        kind = reader.u8()
        out += reader.data[start : reader.pos]
        index = reader.u32()
        out += encode_u(shift(index) if kind == 0x00 else index)
    reader.expect_end()
    return bytes(out)


def shift_globals(reader: Reader, shift: Shift) -> bytes:
    out = bytearray(encode_u(count := reader.u32()))
    for _ in range(count):
        start = reader.pos
        _skip_valtype(reader)
        reader.u8()  # mutability
        out += reader.data[start : reader.pos]
        out += shift_const_expr(reader, shift)
    reader.expect_end()
    return bytes(out)


def shift_tables(reader: Reader, shift: Shift) -> bytes:
    out = bytearray(encode_u(count := reader.u32()))
    for _ in range(count):
        start = reader.pos
        with_init = reader.data[reader.pos] == 0x40
        if with_init:
            reader.skip(2)  # 0x40 0x00
        _skip_valtype(reader)
        flags = reader.u8()
        reader.skip_leb()  # minimum
        if flags & 0x01:
            reader.skip_leb()
        out += reader.data[start : reader.pos]
        if with_init:
            out += shift_const_expr(reader, shift)
    reader.expect_end()
    return bytes(out)


def shift_elements(reader: Reader, shift: Shift) -> bytes:
    out = bytearray(encode_u(count := reader.u32()))
    for _ in range(count):
        start = reader.pos
        flags = reader.u32()
        if flags > 7:
            raise WasmFormatError(f"malformed element segment flags {flags} in {reader.what}")
        if flags & 0x02 and not flags & 0x01:
            reader.u32()  # table index
        out += reader.data[start : reader.pos]
        if not flags & 0x01:
            out += shift_const_expr(reader, shift)  # the offset
        if flags & 0x03:
            start = reader.pos
            if flags & 0x04:
                _skip_valtype(reader)
            else:
                reader.u8()  # elemkind
            out += reader.data[start : reader.pos]
        items = reader.u32()
        out += encode_u(items)
        for _ in range(items):
            if flags & 0x04:
                out += shift_const_expr(reader, shift)
            else:
                out += encode_u(shift(reader.u32()))
    reader.expect_end()
    return bytes(out)


def shift_names(reader: Reader, shift: Shift) -> bytes:
    """The "name" custom section's payload (its name first) with function indices
    shifted in the function (1), local (2) and label (3) subsections; the others are
    copied. A damaged section is dropped (engines ignore one): b"" then."""
    try:
        out = bytearray()
        start = reader.pos
        reader.name()
        out += reader.data[start : reader.pos]
        while not reader.at_end():
            sub_id = reader.u8()
            size = reader.u32()
            sub = Reader(reader.data, reader.pos, reader.pos + size, reader.what)
            reader.skip(size)
            if sub_id == 1:
                payload = bytearray(encode_u(count := sub.u32()))
                for _ in range(count):
                    payload += encode_u(shift(sub.u32()))
                    name_start = sub.pos
                    sub.name()
                    payload += sub.data[name_start : sub.pos]
            elif sub_id in (2, 3):
                payload = bytearray(encode_u(count := sub.u32()))
                for _ in range(count):
                    payload += encode_u(shift(sub.u32()))
                    map_start = sub.pos
                    for _ in range(sub.u32()):
                        sub.u32()
                        sub.name()
                    payload += sub.data[map_start : sub.pos]
            else:
                payload = bytearray(sub.data[sub.pos : sub.end])
            out += bytes((sub_id,)) + encode_u(len(payload)) + payload
        return bytes(out)
    except (WasmFormatError, LebError, IndexError):
        return b""


def _skip_valtype(reader: Reader) -> None:
    from .valtypes import skip_valtype

    skip_valtype(reader)
