"""LEB128 encoders, and the small decoders used where a full `Reader` is not at hand."""

from __future__ import annotations

from functools import lru_cache

from .errors import WasmFormatError


@lru_cache(maxsize=4096)
def encode_u(value: int) -> bytes:
    """Unsigned LEB128 (u32/u64 indices, counts, sizes)."""
    if value < 0:
        raise ValueError(f"cannot encode {value} as unsigned LEB128")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


@lru_cache(maxsize=4096)
def encode_s(value: int) -> bytes:
    """Signed LEB128 (i32.const / i64.const immediates)."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        if done:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


class LebError(WasmFormatError):
    """An over-long LEB128 integer; `pos` is relative to the buffer it was read from, so
    a caller that knows where that buffer sits in the file can say where it is."""

    def __init__(self, pos: int) -> None:
        super().__init__(f"malformed LEB128 integer at byte {pos:#x}")
        self.pos = pos


def decode_u(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at `pos`; returns (value, position after it).

    Raises IndexError when `data` ends inside the integer (callers scanning code turn that
    into their own "truncated" message) and LebError when it is longer than 10 bytes.
    """
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise LebError(pos)


def decode_s(data: bytes, pos: int) -> tuple[int, int]:
    """Decode a signed LEB128 at `pos`, like `decode_u`."""
    result = 0
    shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos
        if shift > 63:
            raise LebError(pos)
