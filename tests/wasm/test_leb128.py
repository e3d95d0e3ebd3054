"""LEB128 and the bounds-checked Reader."""

from __future__ import annotations

import pytest

from wasmcli.wasm import WasmFormatError
from wasmcli.wasm.leb128 import decode_s, decode_u, encode_s, encode_u
from wasmcli.wasm.reader import Reader

UNSIGNED = [0, 1, 63, 64, 127, 128, 255, 300, 16383, 16384, 2**32 - 1, 2**63, 2**64 - 1]
SIGNED = [0, 1, -1, 63, 64, -64, -65, 127, -128, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63)]


@pytest.mark.parametrize("value", UNSIGNED)
def test_unsigned_round_trip(value: int) -> None:
    encoded = encode_u(value)
    assert decode_u(encoded + b"\xff", 0) == (value, len(encoded))
    assert Reader(encoded, 0, len(encoded), "test").u64() == value


@pytest.mark.parametrize("value", SIGNED)
def test_signed_round_trip(value: int) -> None:
    encoded = encode_s(value)
    assert decode_s(encoded, 0) == (value, len(encoded))


def test_known_encodings() -> None:
    assert encode_u(624485) == bytes([0xE5, 0x8E, 0x26])
    assert encode_s(-123456) == bytes([0xC0, 0xBB, 0x78])
    assert encode_s(64) == b"\xc0\x00"  # needs a second byte to stay positive
    assert encode_s(-64) == b"\x40"
    with pytest.raises(ValueError):
        encode_u(-1)


def test_s33_block_types() -> None:
    assert Reader(b"\x40", 0, 1, "t").s33() == -64  # the empty block type
    assert Reader(b"\x7f", 0, 1, "t").s33() == -1  # i32
    assert Reader(b"\x80\x01", 0, 2, "t").s33() == 128  # a type index


def test_reader_errors_name_their_range() -> None:
    with pytest.raises(WasmFormatError, match=r"^truncated module: section 2 \(import\) ends"):
        Reader(b"\x80\x80", 0, 2, "section 2 (import)").u32()
    with pytest.raises(WasmFormatError, match="integer too large"):
        Reader(b"\xff\xff\xff\xff\x7f", 0, 5, "x").u32()
    with pytest.raises(WasmFormatError, match="malformed LEB128"):
        Reader(b"\x80" * 12 + b"\x00", 0, 13, "x").u64()
    with pytest.raises(WasmFormatError, match="malformed UTF-8 name in x at byte 0x0"):
        Reader(b"\x02\xc3\x28", 0, 3, "x").name()
    reader = Reader(b"\x01\x02\x03", 0, 2, "x")  # the range, not the buffer, bounds it
    assert reader.take(2) == b"\x01\x02"
    with pytest.raises(WasmFormatError):
        reader.u8()
    with pytest.raises(IndexError):  # the code scanner reports it with its context
        decode_u(b"\x80", 0)
    with pytest.raises(WasmFormatError, match="malformed LEB128"):
        decode_s(b"\xff" * 11, 0)
