"""A bounds-checked cursor over one section (or sub-range) of a module.

Every read names the range it belongs to, so a short or garbled module fails with a
message like "truncated module: section 2 (import) ends before its content at byte 0x2f"
rather than an IndexError from deep inside the parser.
"""

from __future__ import annotations

from .errors import WasmFormatError


class Reader:
    __slots__ = ("data", "pos", "end", "what")

    def __init__(self, data: bytes, pos: int, end: int, what: str) -> None:
        self.data = data
        self.pos = pos
        self.end = end
        self.what = what

    def at_end(self) -> bool:
        return self.pos >= self.end

    def _short(self) -> WasmFormatError:
        return WasmFormatError(
            f"truncated module: {self.what} ends before its content at byte {self.end:#x}"
        )

    def u8(self) -> int:
        if self.pos >= self.end:
            raise self._short()
        byte = self.data[self.pos]
        self.pos += 1
        return byte

    def u32(self) -> int:
        return self._unsigned(32)

    def u64(self) -> int:
        return self._unsigned(64)

    def _unsigned(self, bits: int) -> int:
        data, pos, end = self.data, self.pos, self.end
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise self._short()
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift >= bits + 7:
                raise WasmFormatError(f"malformed LEB128 integer in {self.what} at byte {pos:#x}")
        if result >> bits:
            raise WasmFormatError(f"integer too large in {self.what} at byte {self.pos:#x}")
        self.pos = pos
        return result

    def s33(self) -> int:
        """Signed LEB128 up to 33 bits: block types and heap types."""
        return self.signed(33)

    def signed(self, bits: int) -> int:
        """Signed LEB128 of up to `bits` bits (33: block and heap types, 64: i64.const)."""
        limit = bits + 7 - bits % 7 if bits % 7 else bits
        data, pos, end = self.data, self.pos, self.end
        result = 0
        shift = 0
        while True:
            if pos >= end:
                raise self._short()
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
            if shift >= limit:
                raise WasmFormatError(f"malformed LEB128 integer in {self.what} at byte {pos:#x}")
        if byte & 0x40:
            result -= 1 << shift
        self.pos = pos
        return result

    def skip_leb(self) -> None:
        data, pos, end = self.data, self.pos, self.end
        start = pos
        while True:
            if pos >= end:
                raise self._short()
            byte = data[pos]
            pos += 1
            if byte < 0x80:
                break
            if pos - start >= 10:
                raise WasmFormatError(f"malformed LEB128 integer in {self.what} at byte {pos:#x}")
        self.pos = pos

    def skip(self, count: int) -> None:
        if self.pos + count > self.end:
            raise self._short()
        self.pos += count

    def take(self, count: int) -> bytes:
        if self.pos + count > self.end:
            raise self._short()
        start = self.pos
        self.pos += count
        return self.data[start : self.pos]

    def name(self) -> str:
        start = self.pos
        raw = self.take(self.u32())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasmFormatError(
                f"malformed UTF-8 name in {self.what} at byte {start:#x}"
            ) from None

    def expect_end(self) -> None:
        if self.pos != self.end:
            raise WasmFormatError(
                f"malformed {self.what}: {self.end - self.pos} unexpected bytes at byte "
                f"{self.pos:#x}"
            )
