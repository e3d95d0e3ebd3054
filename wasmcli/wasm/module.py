"""Section-level view of a module: split it into sections, and put sections back together.

Rewriters (`fuel.py`, `memory_limit.py`) only touch the sections they must change; every
other section, custom sections included, is copied byte for byte from the input.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import WasmFormatError
from .leb128 import encode_u
from .reader import Reader

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"

CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT = 0, 1, 2, 3, 4, 5, 6, 7
START, ELEMENT, CODE, DATA, DATACOUNT, TAG = 8, 9, 10, 11, 12, 13

SECTION_NAMES = {
    CUSTOM: "custom",
    TYPE: "type",
    IMPORT: "import",
    FUNCTION: "function",
    TABLE: "table",
    MEMORY: "memory",
    GLOBAL: "global",
    EXPORT: "export",
    START: "start",
    ELEMENT: "element",
    CODE: "code",
    DATA: "data",
    DATACOUNT: "datacount",
    TAG: "tag",
}

# The order the spec requires of non-custom sections (tag sits between memory and global,
# datacount between element and code).
_ORDER = [
    TYPE,
    IMPORT,
    FUNCTION,
    TABLE,
    MEMORY,
    TAG,
    GLOBAL,
    EXPORT,
    START,
    ELEMENT,
    DATACOUNT,
    CODE,
    DATA,
]
SECTION_RANK = {sid: rank for rank, sid in enumerate(_ORDER)}


def describe(section_id: int) -> str:
    return f"section {section_id} ({SECTION_NAMES.get(section_id, 'unknown')})"


@dataclass(frozen=True)
class Section:
    """One section: `start` is its id byte, [`payload_start`, `end`) its content."""

    id: int
    start: int
    payload_start: int
    end: int

    def reader(self, data: bytes) -> Reader:
        return Reader(data, self.payload_start, self.end, describe(self.id))


def as_bytes(wasm: bytes | bytearray | memoryview) -> bytes:
    """The parsers slice and decode names, which only `bytes` does the way they need."""
    return wasm if isinstance(wasm, bytes) else bytes(wasm)


def check_header(wasm: bytes) -> None:
    if not wasm:
        raise WasmFormatError("not a WebAssembly module (empty file)")
    head = wasm[:4]
    if head != MAGIC[: len(head)]:
        raise WasmFormatError("not a WebAssembly module (bad magic bytes)")
    if len(wasm) < 8:
        raise WasmFormatError(
            f"truncated module: the file has {len(wasm)} bytes, too short for a header"
        )
    version = wasm[4:8]
    if version != VERSION:
        if version[2:4] == b"\x01\x00":
            raise WasmFormatError(
                "a WebAssembly component, not a core module (components are not supported)"
            )
        number = int.from_bytes(version, "little")
        raise WasmFormatError(f"unsupported WebAssembly version {number} (expected 1)")


def split_sections(wasm: bytes) -> list[Section]:
    """Check the header and section framing; does not look inside sections."""
    check_header(wasm)
    size = len(wasm)
    sections: list[Section] = []
    pos = 8
    last_rank = -1
    while pos < size:
        start = pos
        section_id = wasm[pos]
        if section_id not in SECTION_NAMES:
            raise WasmFormatError(f"unknown section id {section_id} at byte {pos:#x}")
        header = Reader(wasm, pos + 1, size, f"the header of {describe(section_id)}")
        length = header.u32()
        payload_start = header.pos
        end = payload_start + length
        if end > size:
            raise WasmFormatError(
                f"truncated module: {describe(section_id)} ends at byte {end} "
                f"but the file has {size} bytes"
            )
        if section_id != CUSTOM:
            rank = SECTION_RANK[section_id]
            if rank <= last_rank:
                raise WasmFormatError(
                    f"{describe(section_id)} at byte {start:#x} is duplicated or out of order"
                )
            last_rank = rank
        sections.append(Section(section_id, start, payload_start, end))
        pos = end
    return sections


def encode_section(section_id: int, payload: bytes) -> bytes:
    return bytes((section_id,)) + encode_u(len(payload)) + payload


def rebuild(
    wasm: bytes,
    sections: list[Section],
    replaced: dict[int, bytes | None],
) -> bytes:
    """Reassemble a module.

    `replaced` maps a non-custom section id to its new payload, or None to drop it. An id
    with a payload but no section in the input is inserted where the spec order puts it.
    Everything else is copied verbatim.
    """
    present = {s.id for s in sections if s.id != CUSTOM}
    pending = sorted(
        (sid for sid, payload in replaced.items() if sid not in present and payload is not None),
        key=SECTION_RANK.__getitem__,
    )
    parts: list[bytes] = [wasm[:8]]

    def flush_before(rank: int) -> None:
        while pending and SECTION_RANK[pending[0]] < rank:
            sid = pending.pop(0)
            payload = replaced[sid]
            assert payload is not None
            parts.append(encode_section(sid, payload))

    for section in sections:
        if section.id != CUSTOM:
            flush_before(SECTION_RANK[section.id])
            if section.id in replaced:
                payload = replaced[section.id]
                if payload is not None:
                    parts.append(encode_section(section.id, payload))
                continue
        parts.append(wasm[section.start : section.end])
    flush_before(len(SECTION_RANK))
    return b"".join(parts)
