"""Capping what a module can allocate by rewriting the maxima it declares.

`limit_resources` makes one cap cover everything a plugin can allocate: all its linear
memories together and its tables (each element counted at `TABLE_ELEMENT_BYTES`, what
both engines really spend on a funcref or externref slot). The initial sizes must fit
in the cap (else `ResourcesAboveLimit`); the room left is handed out as growth, to the
memories first, in index order, then to the tables, by lowering (or adding) each
declared maximum. Every engine refuses `memory.grow`/`table.grow` beyond a declared
maximum (grow returns -1), so the cap holds on engines without store limits, and both
engines, running the same rewritten module, agree on every outcome.

Imported memories and tables are left alone: the plugin ABI provides none, and their
limits belong to the importer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import module as m
from .errors import ResourcesAboveLimit, WasmFormatError
from .leb128 import encode_u
from .reader import Reader
from .valtypes import read_valtype

if TYPE_CHECKING:
    from .pipeline import ModuleEditor

PAGE_BYTES = 65536
# A funcref or externref slot: 8 bytes on wasmtime and on wasmer (measured: growing a
# table by 10,000,000 elements adds 8.8-8.9 bytes per element to either engine's RSS).
TABLE_ELEMENT_BYTES = 8

_HAS_MAX = 0x01
_IS_64 = 0x04
_PAGE_SIZE = 0x08
# The largest maxima a memory (in 64 KiB pages) or a table (in elements) can declare.
_MAX_PAGES_32 = 1 << 16
_MAX_PAGES_64 = 1 << 48
_MAX_ELEMENTS_32 = (1 << 32) - 1
_MAX_ELEMENTS_64 = (1 << 64) - 1
_TABLE_WITH_INIT = 0x40


@dataclass(frozen=True)
class _Limits:
    flags: int
    initial: int
    declared: int | None

    @property
    def is_64(self) -> bool:
        return bool(self.flags & _IS_64)

    def encode(self, maximum: int) -> bytes:
        return bytes((self.flags | _HAS_MAX,)) + encode_u(self.initial) + encode_u(maximum)


def _read_limits(reader: Reader, what: str) -> _Limits:
    start = reader.pos
    flags = reader.u8()
    if flags & ~0x0F:
        raise WasmFormatError(f"invalid limits flags {flags:#04x} in {reader.what}")
    if flags & _PAGE_SIZE:
        raise WasmFormatError(
            f"{what} at byte {start:#x} uses custom page sizes, which wasmcli does not support"
        )
    read = reader.u64 if flags & _IS_64 else reader.u32
    initial = read()
    declared = read() if flags & _HAS_MAX else None
    return _Limits(flags, initial, declared)


def _read_memories(wasm: bytes, section: m.Section | None) -> list[_Limits]:
    if section is None:
        return []
    reader = section.reader(wasm)
    memories = [_read_limits(reader, "memory") for _ in range(reader.u32())]
    reader.expect_end()
    return memories


def _read_tables(wasm: bytes, section: m.Section | None) -> list[tuple[bytes, _Limits]]:
    """Each table as (its element type's bytes, its limits)."""
    if section is None:
        return []
    reader = section.reader(wasm)
    tables = []
    for _ in range(reader.u32()):
        start = reader.pos
        if start < reader.end and wasm[start] == _TABLE_WITH_INIT:
            raise WasmFormatError(
                f"table at byte {start:#x} has an initializer expression (function "
                "references), which wasmcli does not run"
            )
        read_valtype(reader)
        element_type = wasm[start : reader.pos]
        tables.append((element_type, _read_limits(reader, "table")))
    reader.expect_end()
    return tables


def footprint(memory_pages: int, table_elements: int) -> int:
    """The bytes that many memory pages and table elements take."""
    return memory_pages * PAGE_BYTES + table_elements * TABLE_ELEMENT_BYTES


def _initial_bytes(memories: list[_Limits], tables: list[_Limits]) -> int:
    return footprint(sum(mem.initial for mem in memories), sum(t.initial for t in tables))


def check_declared(wasm: bytes, limit_bytes: int) -> None:
    """ResourcesAboveLimit when the module's memories and tables start above the limit
    (what `limit_resources` would refuse, without rebuilding the module)."""
    wasm = m.as_bytes(wasm)
    sections = m.split_sections(wasm)
    memories = _read_memories(wasm, _section(sections, m.MEMORY))
    tables = [limits for _, limits in _read_tables(wasm, _section(sections, m.TABLE))]
    initial = _initial_bytes(memories, tables)
    if initial > limit_bytes:
        raise ResourcesAboveLimit(initial, limit_bytes)


def limit_resources(wasm: bytes, limit_bytes: int) -> bytes:
    """Lower every defined memory's and table's maximum so that all of them together
    can never take more than `limit_bytes`.

    Raises ResourcesAboveLimit when the initial sizes alone are above the limit, and
    WasmFormatError for a malformed module.
    """
    wasm = m.as_bytes(wasm)
    sections = m.split_sections(wasm)
    replaced = _limited_sections(wasm, sections, limit_bytes)
    return m.rebuild(wasm, sections, dict(replaced)) if replaced else wasm


@dataclass(frozen=True)
class ResourceLimit:
    """`limit_resources` as the first of the passes (pipeline.py): sections only."""

    limit_bytes: int

    def key(self) -> tuple[object, ...]:
        return ("resource-limit", self.limit_bytes)

    def apply(self, module: ModuleEditor) -> None:
        for section_id, payload in _limited_sections(
            module.wasm, module.sections, self.limit_bytes
        ).items():
            module.replace_section(section_id, payload)


def _limited_sections(wasm: bytes, sections: list[m.Section], limit_bytes: int) -> dict[int, bytes]:
    """The memory and table sections with their maxima lowered (see limit_resources)."""
    if limit_bytes < 0:
        raise ValueError(f"limit_bytes must not be negative (got {limit_bytes})")
    memories = _read_memories(wasm, _section(sections, m.MEMORY))
    tables = _read_tables(wasm, _section(sections, m.TABLE))
    initial = _initial_bytes(memories, [limits for _, limits in tables])
    if initial > limit_bytes:
        raise ResourcesAboveLimit(initial, limit_bytes)
    room = limit_bytes - initial
    replaced: dict[int, bytes] = {}
    if memories:
        entries = []
        for memory in memories:
            ceiling = _MAX_PAGES_64 if memory.is_64 else _MAX_PAGES_32
            maximum, room = _share(memory, ceiling, PAGE_BYTES, room)
            entries.append(memory.encode(maximum))
        replaced[m.MEMORY] = encode_u(len(memories)) + b"".join(entries)
    if tables:
        entries = []
        for element_type, table in tables:
            ceiling = _MAX_ELEMENTS_64 if table.is_64 else _MAX_ELEMENTS_32
            maximum, room = _share(table, ceiling, TABLE_ELEMENT_BYTES, room)
            entries.append(element_type + table.encode(maximum))
        replaced[m.TABLE] = encode_u(len(tables)) + b"".join(entries)
    return replaced


def _share(limits: _Limits, ceiling: int, unit_bytes: int, room: int) -> tuple[int, int]:
    """(the new maximum, the room left): as much growth as the room allows, never more
    than the module declared."""
    wanted = (limits.declared if limits.declared is not None else ceiling) - limits.initial
    growth = max(0, min(wanted, room // unit_bytes))
    return limits.initial + growth, room - growth * unit_bytes


def _section(sections: list[m.Section], section_id: int) -> m.Section | None:
    return next((s for s in sections if s.id == section_id), None)
