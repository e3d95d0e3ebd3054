"""What wasmtime 50 charges for instantiating a module, before its start function runs.

wasmtime compiles a module's initialisation into one "startup" function that runs at
instantiation, with fuel like any other function: 1 for entering it, then, in this order,
- each global whose initialiser is not a single numeric constant: its operators;
- each passive element segment: the operators of its item expressions (a plain function
  index costs nothing);
- each table with an initialiser other than a single `ref.func`: its operators, plus the
  table's initial size (a `table.fill`);
- each active element segment it does not precompute (the first one into an imported
  table, at an offset that is not a single constant, or made of item expressions, and
  every active segment after it): its offset's operators, its items' operators, and its
  length (a `table.init`);
- each active data segment it cannot put in the memory's initial image (into an imported
  memory, or at an offset that is not a single constant): its offset's operators and its
  length (a `memory.init`);
- then the start function, called: 1 for the call, plus what the call charges.
Everything else is precomputed when the module is compiled and costs nothing. The fuel
pass charges the same in the start wrapper it adds (`fuel.py`), so that a module costs the
same from instantiation on with either engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import module as m
from .constexpr import ConstExpr, read_const_expr
from .info import ModuleInfo
from .reader import Reader
from .valtypes import read_valtype


@dataclass(frozen=True)
class StartupCost:
    needed: bool  # wasmtime runs a startup function for this module
    cost: int  # its charges besides entering it and calling the start function
    gc_op: str | None  # a GC instruction in some constant expression, by name


class _Tally:
    def __init__(self) -> None:
        self.needed = False
        self.cost = 0
        self.gc_op: str | None = None

    def charge(self, *exprs: ConstExpr, extra: int = 0) -> None:
        self.needed = True
        self.cost += sum(e.ops for e in exprs) + extra

    def lose_charges(self) -> None:
        self.cost = 0

    def saw(self, expr: ConstExpr) -> ConstExpr:
        self.gc_op = self.gc_op or expr.gc_op
        return expr


def startup_cost(wasm: bytes, sections: list[m.Section], info: ModuleInfo) -> StartupCost:
    tally = _Tally()
    by_id = {s.id: s for s in sections if s.id != m.CUSTOM}
    readers = {
        m.GLOBAL: _globals,
        m.TABLE: _table_initialisers,
        m.ELEMENT: _element_segments,
    }
    for section_id, read in readers.items():
        section = by_id.get(section_id)
        if section is not None:
            read(section.reader(wasm), info, tally)
    data = by_id.get(m.DATA)
    if data is not None:
        _charge_data(_active_data_segments(data.reader(wasm), tally), info, tally)
    return StartupCost(tally.needed, tally.cost, tally.gc_op)


def _globals(reader: Reader, info: ModuleInfo, tally: _Tally) -> None:
    for _ in range(reader.u32()):
        read_valtype(reader)
        reader.u8()  # mutability
        init = tally.saw(read_const_expr(reader))
        if not init.is_numeric_const:
            tally.charge(init)


def _table_initialisers(reader: Reader, info: ModuleInfo, tally: _Tally) -> None:
    defined = [t for t in info.tables if not t.imported]
    for table in defined[: reader.u32()]:
        if reader.data[reader.pos : reader.pos + 2] != b"\x40\x00":
            _skip_table_type(reader)
            continue
        reader.skip(2)
        _skip_table_type(reader)
        init = tally.saw(read_const_expr(reader))
        if not init.is_ref_func:
            tally.charge(init, extra=table.min_size)


def _skip_table_type(reader: Reader) -> None:
    read_valtype(reader)
    flags = reader.u8()
    read = reader.u64 if flags & 0x04 else reader.u32
    read()
    if flags & 0x01:
        read()


def _element_segments(reader: Reader, info: ModuleInfo, tally: _Tally) -> None:
    """wasmtime precomputes active segments of function indices at constant offsets into
    defined tables, in order, up to the first segment it cannot precompute: that one and
    every active segment after it are written at instantiation."""
    precomputing = True
    for _ in range(reader.u32()):
        flags = reader.u32()
        passive_or_declared = flags & 0x01
        table = reader.u32() if flags & 0x02 and not passive_or_declared else 0
        offset = None if passive_or_declared else tally.saw(read_const_expr(reader))
        expressions = bool(flags & 0x04)
        if flags & 0x03:  # an element kind or a reference type before the items
            if expressions:
                read_valtype(reader)
            else:
                reader.u8()
        count = reader.u32()
        items: list[ConstExpr] = []
        for _ in range(count):
            if expressions:
                items.append(tally.saw(read_const_expr(reader)))
            else:
                reader.u32()
        if offset is None:
            if flags & 0x02 == 0:  # passive (declarative segments are never instantiated)
                tally.charge(*items)
            continue
        imported = table < len(info.tables) and info.tables[table].imported
        precomputing = precomputing and not (imported or expressions or not offset.is_numeric_const)
        if not precomputing:
            tally.charge(offset, *items, extra=count)


@dataclass(frozen=True)
class _DataSegment:
    memory: int
    offset: ConstExpr
    length: int


def _active_data_segments(reader: Reader, tally: _Tally) -> list[_DataSegment]:
    segments = []
    for _ in range(reader.u32()):
        flags = reader.u32()
        if flags == 1:  # passive
            reader.skip(reader.u32())
            continue
        memory = reader.u32() if flags == 2 else 0
        offset = tally.saw(read_const_expr(reader))
        length = reader.u32()
        reader.skip(length)
        segments.append(_DataSegment(memory, offset, length))
    return segments


def _charge_data(segments: list[_DataSegment], info: ModuleInfo, tally: _Tally) -> None:
    """Data segments, by the way wasmtime initialises the memories.

    Where every active segment has a constant offset into a defined memory, wasmtime
    builds each memory's initial image at compile time ("static" initialisation);
    otherwise it writes every segment at instantiation ("segmented"), each charged like a
    `memory.init`. Static initialisation has two measured quirks, reproduced here:
    - in a module without imported memories, the images are mapped, not copied, and the
      startup function then charges only its entry: 1 if anything else needs it or a
      defined memory has no image, and the charges of the other initialisers are lost;
    - in a module that imports a memory, each defined memory's image is copied in, charged
      its length: from the 4 KiB page of its first byte to the end of the 4 KiB page of
      its last byte.
    Empty segments play no part in static initialisation.
    """
    memories = info.memories
    segmented = any(
        memories[s.memory].imported or not s.offset.is_numeric_const
        for s in segments
        if s.memory < len(memories)
    )
    if segmented:
        for segment in segments:
            tally.charge(segment.offset, extra=segment.length)
        return
    spans: dict[int, tuple[int, int]] = {}
    for segment in segments:
        if segment.length and segment.offset.value is not None:
            first, last = spans.get(segment.memory, (segment.offset.value, 0))
            end = segment.offset.value + segment.length
            spans[segment.memory] = (min(first, segment.offset.value), max(last, end))
    if not spans:
        return
    if any(memory.imported for memory in memories):
        image_bytes = sum(_page_end(end) - first // _PAGE * _PAGE for first, end in spans.values())
        tally.charge(extra=image_bytes)
        return
    without_image = any(not m.imported and m.index not in spans for m in memories)
    tally.lose_charges()
    if without_image:
        tally.charge()


_PAGE = 4096


def _page_end(end: int) -> int:
    return -(-end // _PAGE) * _PAGE
