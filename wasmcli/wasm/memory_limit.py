"""`limit_memory`: cap a module's own memories by lowering their declared maximum.

Engines without store limits still refuse `memory.grow` beyond a memory's declared
maximum, so lowering that maximum is a memory cap they enforce for us. Imported memories
are left alone: the plugin ABI provides none, and their limits belong to the importer.
"""

from __future__ import annotations

from . import module as m
from .errors import MemoryAboveLimit, WasmFormatError
from .leb128 import encode_u

_HAS_MAX = 0x01
_IS_64 = 0x04
_PAGE_SIZE = 0x08
# The most 64 KiB pages a memory can declare: 4 GiB for 32-bit memories, 2^64 bytes
# for 64-bit ones.
_MAX_PAGES_32 = 1 << 16
_MAX_PAGES_64 = 1 << 48


def limit_memory(wasm: bytes, max_pages: int) -> bytes:
    """Lower every defined memory's maximum to `max_pages` (adding one where missing).

    Raises MemoryAboveLimit when a memory's initial size is above `max_pages`, and
    WasmFormatError for a malformed module.
    """
    if max_pages < 0:
        raise ValueError(f"max_pages must not be negative (got {max_pages})")
    wasm = m.as_bytes(wasm)
    sections = m.split_sections(wasm)
    memory = next((s for s in sections if s.id == m.MEMORY), None)
    if memory is None:
        return wasm
    reader = memory.reader(wasm)
    count = reader.u32()
    entries: list[bytes] = []
    for _ in range(count):
        start = reader.pos
        flags = reader.u8()
        if flags & ~0x0F:
            raise WasmFormatError(f"invalid limits flags {flags:#04x} in {reader.what}")
        if flags & _PAGE_SIZE:
            raise WasmFormatError(
                f"memory at byte {start:#x} uses custom page sizes, which limit_memory "
                "does not support"
            )
        read = reader.u64 if flags & _IS_64 else reader.u32
        initial = read()
        declared = read() if flags & _HAS_MAX else None
        if initial > max_pages:
            raise MemoryAboveLimit(initial, max_pages)
        ceiling = _MAX_PAGES_64 if flags & _IS_64 else _MAX_PAGES_32
        new_max = min(max_pages, ceiling) if declared is None else min(declared, max_pages)
        entries.append(bytes((flags | _HAS_MAX,)) + encode_u(initial) + encode_u(new_max))
    reader.expect_end()
    payload = encode_u(count) + b"".join(entries)
    return m.rebuild(wasm, sections, {m.MEMORY: payload})
