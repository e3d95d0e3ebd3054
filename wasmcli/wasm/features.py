"""Which WebAssembly proposals a module uses, decided from its bytes before any engine.

wasmcli runs a plugin on wasmtime or wasmer and promises the same verdict on both, so it
accepts exactly the proposals both engines run (`SUPPORTED`, measured on wasmtime 50 and
wasmer 1.1 with Cranelift) and refuses every other one by name, the same way on both,
instead of letting one engine run a module the other rejects with a validation message.

`proposals_used` reads the type, import, table, memory, global, element, data and tag
sections, and walks every function body once (shape-only, like the fuel pass).
"""

from __future__ import annotations

from . import module as m
from . import opcodes as o
from .constexpr import ConstExpr, read_const_expr
from .errors import WasmFormatError
from .info import ModuleInfo, parse
from .leb128 import LebError, decode_u
from .reader import Reader
from .valtypes import read_valtype

MVP = "MVP"
MUTABLE_GLOBALS = "mutable globals"
SIGN_EXTENSION = "sign extension"
SAT_CONVERSIONS = "non-trapping float-to-int"
MULTI_VALUE = "multi-value"
BULK_MEMORY = "bulk memory"
REFERENCE_TYPES = "reference types"
SIMD = "fixed-width SIMD"
# Both engines run these.
SUPPORTED = (
    MVP,
    MUTABLE_GLOBALS,
    SIGN_EXTENSION,
    SAT_CONVERSIONS,
    MULTI_VALUE,
    BULK_MEMORY,
    REFERENCE_TYPES,
    SIMD,
)

TAIL_CALLS = "tail calls"
EXTENDED_CONST = "extended constant expressions"
MULTI_MEMORY = "multiple memories"
MEMORY64 = "64-bit memories"
TABLE64 = "64-bit tables"
THREADS = "threads"
EXCEPTIONS = "exception handling"
FUNCTION_REFERENCES = "typed function references"
GC = "garbage collection"
RELAXED_SIMD = "relaxed SIMD"
WIDE_ARITHMETIC = "wide arithmetic"
CUSTOM_PAGE_SIZES = "custom page sizes"
STACK_SWITCHING = "stack switching"
MEMORY_CONTROL = "memory control"
# Parts of reference types that wasmer 1.1 does not run: refused on both engines too.
EXTERNREF_SEGMENTS = "element segments of externref"
GLOBAL_ELEMENT_ITEMS = "global.get in element segments"


class UnsupportedProposal(WasmFormatError):
    """The module uses a proposal wasmcli does not run; `proposal` names it."""

    def __init__(self, proposal: str) -> None:
        super().__init__(
            f"uses {proposal}, which wasmcli does not run; supported: {', '.join(SUPPORTED)}"
        )
        self.proposal = proposal


_ABSTRACT_GC_HEAPS = frozenset(("any", "eq", "i31", "struct", "array", "none"))
_EXN_HEAPS = frozenset(("exn", "noexn"))


def _valtype_proposals(name: str) -> tuple[str, ...]:
    """The proposals a value type (as `read_valtype` renders it) belongs to."""
    if name in ("i32", "i64", "f32", "f64"):
        return ()
    if name == "v128":
        return (SIMD,)
    if name in ("funcref", "externref"):
        return (REFERENCE_TYPES,)
    heap = name.removesuffix("ref")
    if name.startswith("(ref"):
        heap = name.rstrip(")").split()[-1]
        if heap in ("func", "extern") or heap.isdigit():
            return (FUNCTION_REFERENCES,)
    if heap in _EXN_HEAPS:
        return (EXCEPTIONS,)
    if heap in ("nofunc", "noextern"):
        return (GC,)
    return (GC,) if heap in _ABSTRACT_GC_HEAPS or heap.isdigit() else (FUNCTION_REFERENCES,)


_CONST_ARITHMETIC = frozenset((0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E))

# One-byte opcodes that by themselves belong to a proposal.
_OPCODE_PROPOSALS: dict[int, tuple[str, ...]] = {
    **{op: (SIGN_EXTENSION,) for op in range(0xC0, 0xC5)},
    **{op: (REFERENCE_TYPES,) for op in (0x1C, 0x25, 0x26, 0xD0, 0xD1, 0xD2)},
    **{op: (EXCEPTIONS,) for op in (0x06, 0x07, 0x08, 0x09, 0x0A, 0x18, 0x19, 0x1F)},
    **{op: (STACK_SWITCHING,) for op in range(0xE0, 0xE7)},
    0x12: (TAIL_CALLS,),
    0x13: (TAIL_CALLS,),
    0x14: (FUNCTION_REFERENCES,),
    0x15: (TAIL_CALLS, FUNCTION_REFERENCES),
    0xD3: (GC,),
    0xD4: (FUNCTION_REFERENCES,),
    0xD5: (FUNCTION_REFERENCES,),
    0xD6: (FUNCTION_REFERENCES,),
    0xFB: (GC,),
    0xFE: (THREADS,),
}


def _fc_proposal(sub: int) -> str:
    if sub <= 0x07:
        return SAT_CONVERSIONS
    if sub <= 0x0E:
        return BULK_MEMORY
    if sub <= 0x11:
        return REFERENCE_TYPES
    if sub == 0x12:
        return MEMORY_CONTROL
    return WIDE_ARITHMETIC


# Proposals of the one-byte value types and heap types a block type, a `select` or a local
# may name (0x63/0x64 introduce a reference type with a heap type after them).
_TYPE_BYTE_PROPOSALS: dict[int, tuple[str, ...]] = {
    0x7B: (SIMD,),
    0x70: (REFERENCE_TYPES,),
    0x6F: (REFERENCE_TYPES,),
    **{code: (GC,) for code in (0x6E, 0x6D, 0x6C, 0x6B, 0x6A, 0x71, 0x72, 0x73)},
    0x69: (EXCEPTIONS,),
    0x74: (EXCEPTIONS,),
}


class _Found:
    """The proposals seen so far."""

    def __init__(self) -> None:
        self.proposals: set[str] = {MVP}

    def add(self, *proposals: str) -> None:
        self.proposals.update(proposals)

    def valtype(self, name: str) -> None:
        self.proposals.update(_valtype_proposals(name))

    def const_expr(self, expr: ConstExpr, num_imported_globals: int) -> None:
        if expr.gc_op is not None:
            self.add(GC)
        if expr.first_op in (0xD0, 0xD2):
            self.add(REFERENCE_TYPES)
        if expr.first_op == 0xFD:
            self.add(SIMD)
        if expr.ops > 1 and expr.gc_op is None:
            self.add(EXTENDED_CONST)


def _step_type_byte(body: bytes, p: int, found: _Found) -> int:
    """Step over a value type in code (locals, select, a one-byte block type)."""
    code = body[p]
    proposals = _TYPE_BYTE_PROPOSALS.get(code)
    if proposals:
        found.add(*proposals)
    if code == 0x63 or code == 0x64:
        heap, p = _read_s33(body, p + 1)
        if heap >= 0:
            found.add(FUNCTION_REFERENCES)
        else:
            heap_code = heap + 0x80
            if heap_code in (0x70, 0x6F):
                if code == 0x64:
                    found.add(FUNCTION_REFERENCES)
                else:
                    found.add(REFERENCE_TYPES)
            else:
                found.add(*_TYPE_BYTE_PROPOSALS.get(heap_code, (GC,)))
        return p
    return p + 1


def _read_s33(body: bytes, p: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = body[p]
        p += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, p
        if shift > 35:
            raise LebError(p)


def _skip(body: bytes, p: int) -> int:
    while body[p] & 0x80:
        p += 1
    return p + 1


def _scan_body(body: bytes, p: int, end: int, found: _Found) -> None:
    """Walk one function body (after its locals); stops early at an instruction it cannot
    step over (an unsupported proposal's, already recorded, or an unknown one: the engine
    will say what is wrong with it)."""
    kind = o.KIND
    LEB, PLAIN, FREE, CONST, MEMARG = o.LEB, o.PLAIN, o.FREE, o.CONST, o.MEMARG
    special = _OPCODE_PROPOSALS
    while p < end:
        op = body[p]
        k = kind[op]
        proposals = special.get(op)
        if proposals is not None:
            found.add(*proposals)
        if k == PLAIN or k == FREE:
            p += 1
        elif k == LEB or k == CONST:
            start = p
            p = _skip(body, p + 1)
            if op == 0x3F and body[start + 1] != 0:  # memory.size of another memory
                found.add(MULTI_MEMORY)
            elif op == 0xD0:  # ref.null: its heap type
                _step_type_byte(b"\x63" + body[start + 1 : p], 0, found)
        elif k == MEMARG:
            flags, p = decode_u(body, p + 1)
            if flags & 0x40:
                found.add(MULTI_MEMORY)
                p = _skip(body, p)
            p = _skip(body, p)
        elif k == o.BLOCK or k == o.LOOP or k == o.IF:
            code = body[p + 1]
            if code == 0x40:
                p += 2
            elif code >= 0x40 and code < 0x80 or code in (0x63, 0x64):
                p = _step_type_byte(body, p + 1, found)
            else:
                found.add(MULTI_VALUE)  # a block type by type index
                p = _skip(body, p + 1)
        elif k in (o.ELSE, o.END, o.RETURN, o.UNREACHABLE):
            p += 1
        elif k == o.BR or k == o.BR_IF or k == o.RETURN_CALL:
            p = _skip(body, p + 1)
        elif k == o.BR_TABLE:
            count, p = decode_u(body, p + 1)
            for _ in range(count + 1):
                p = _skip(body, p)
        elif k == o.CALL_INDIRECT or k == o.RETURN_CALL_INDIRECT:
            p = _skip(body, p + 1)
            table, p = decode_u(body, p)
            if table:
                found.add(REFERENCE_TYPES)
        elif k == o.F32:
            p += 5
        elif k == o.F64:
            p += 9
        elif k == o.SELECT_T:
            count, p = decode_u(body, p + 1)
            for _ in range(count):
                p = _step_type_byte(body, p, found)
        elif k == o.MEMORY_GROW:
            memory, p = decode_u(body, p + 1)
            if memory:
                found.add(MULTI_MEMORY)
        elif k == o.PREFIX_FC:
            sub, p = decode_u(body, p + 1)
            spec = o.FC_OPS.get(sub)
            found.add(_fc_proposal(sub))
            if spec is None:
                return
            immediates = []
            for _ in range(spec[0]):
                value, p = decode_u(body, p)
                immediates.append(value)
            # memory.init/copy/fill of a memory other than 0, table.init/copy of a
            # table other than 0
            indices = {0x08: 1, 0x0A: 0, 0x0B: 0, 0x0C: 1, 0x0E: 0}.get(sub)
            if indices is not None and any(immediates[indices:]):
                found.add(MULTI_MEMORY if sub <= 0x0B else REFERENCE_TYPES)
        elif k == o.PREFIX_FD:
            sub, p = decode_u(body, p + 1)
            if sub >= 0x100:
                found.add(RELAXED_SIMD)
                continue
            found.add(SIMD)
            shape = o.FD_OPS.get(sub)
            if shape is None:
                return
            if shape == o.SIMD_MEMARG or shape == o.SIMD_MEMARG_LANE:
                flags, p = decode_u(body, p)
                if flags & 0x40:
                    found.add(MULTI_MEMORY)
                    p = _skip(body, p)
                p = _skip(body, p) + (shape == o.SIMD_MEMARG_LANE)
            elif shape == o.SIMD_BYTES16:
                p += 16
            elif shape == o.SIMD_LANE:
                p += 1
        elif k == o.PREFIX_FE:
            sub, p = decode_u(body, p + 1)
            if sub == o.FE_FENCE:
                p += 1
            elif sub in o.FE_MEMARG_OPS:
                flags, p = decode_u(body, p)
                if flags & 0x40:
                    found.add(MULTI_MEMORY)
                    p = _skip(body, p)
                p = _skip(body, p)
            else:
                return
        else:  # exception handling, GC, stack switching (recorded above), or unknown
            return


ALL = (
    *SUPPORTED,
    TAIL_CALLS,
    EXTENDED_CONST,
    MULTI_MEMORY,
    MEMORY64,
    TABLE64,
    THREADS,
    EXCEPTIONS,
    FUNCTION_REFERENCES,
    GC,
    RELAXED_SIMD,
    WIDE_ARITHMETIC,
    CUSTOM_PAGE_SIZES,
    STACK_SWITCHING,
    MEMORY_CONTROL,
    EXTERNREF_SEGMENTS,
    GLOBAL_ELEMENT_ITEMS,
)


def proposals_used(wasm: bytes) -> tuple[str, ...]:
    """Every proposal the module uses, in the order of `ALL` (MVP first).

    Raises WasmFormatError for a module the reader cannot frame.
    """
    wasm = m.as_bytes(wasm)
    parsed = parse(wasm)
    info = parsed.info
    found = _Found()
    _declarations(info, found)
    for section in parsed.sections:
        reader = section.reader(wasm)
        try:
            _SECTIONS.get(section.id, _nothing)(reader, info, found)
        except (IndexError, LebError):
            raise WasmFormatError(f"malformed {reader.what}") from None
    return tuple(p for p in ALL if p in found.proposals)


def check_supported(wasm: bytes) -> tuple[str, ...]:
    """The proposals the module uses; UnsupportedProposal for the first one wasmcli does
    not run."""
    used = proposals_used(wasm)
    for proposal in used:
        if proposal not in SUPPORTED:
            raise UnsupportedProposal(proposal)
    return used


def _declarations(info: ModuleInfo, found: _Found) -> None:
    """What the reader already knows: types, imports, memories, tables."""
    for sig in info.types:
        if sig is None:
            found.add(GC)  # struct and array types
            continue
        if len(sig.results) > 1:
            found.add(MULTI_VALUE)
        for name in (*sig.params, *sig.results):
            found.valtype(name)
    if len(info.memories) > 1:
        found.add(MULTI_MEMORY)
    for memory in info.memories:
        if memory.shared:
            found.add(THREADS)
        if memory.is_64:
            found.add(MEMORY64)
    if len(info.tables) > 1:
        found.add(REFERENCE_TYPES)
    for table in info.tables:
        if table.element_type != "funcref":  # a table of funcref is the MVP's
            found.valtype(table.element_type)
        if table.is_64:
            found.add(TABLE64)
    for imp in info.imports:
        if imp.kind == "tag":
            found.add(EXCEPTIONS)


def _nothing(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    pass


def _type_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    # Rec groups and subtypes are GC's, even around function types (`info.types` has
    # already told the rest).
    for _ in range(reader.u32()):
        form = reader.u8()
        if form in (0x4E, 0x50, 0x4F):
            found.add(GC)
            return
        if form != 0x60:
            return
        for _ in range(2):  # params, results
            for _ in range(reader.u32()):
                read_valtype(reader)


def _limits_flags(reader: Reader, found: _Found) -> None:
    flags = reader.u8()
    if flags & 0x08:
        found.add(CUSTOM_PAGE_SIZES)
    read = reader.u64 if flags & 0x04 else reader.u32
    read()
    if flags & 0x01:
        read()
    if flags & 0x08:
        reader.u32()


def _import_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        reader.name()
        reader.name()
        kind = reader.u8()
        if kind == 0:
            reader.u32()
        elif kind == 1:
            read_valtype(reader)
            _limits_flags(reader, found)
        elif kind == 2:
            _limits_flags(reader, found)
        elif kind == 3:
            found.valtype(read_valtype(reader))
            if reader.u8() & 0x01:
                found.add(MUTABLE_GLOBALS)
        else:
            return


def _memory_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        _limits_flags(reader, found)


def _table_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        initialised = reader.data[reader.pos : reader.pos + 2] == b"\x40\x00"
        if initialised:
            reader.skip(2)
            found.add(FUNCTION_REFERENCES)
        read_valtype(reader)
        _limits_flags(reader, found)
        if initialised:
            found.const_expr(read_const_expr(reader), info.num_imported_globals)


def _global_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        found.valtype(read_valtype(reader))
        reader.u8()
        found.const_expr(read_const_expr(reader), info.num_imported_globals)


def _element_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        flags = reader.u32()
        if flags:
            # passive, declarative or with a table index: bulk memory; expressions:
            # reference types
            found.add(REFERENCE_TYPES if flags & 0x04 else BULK_MEMORY)
        if flags & 0x02 and not flags & 0x01:
            if reader.u32():
                found.add(REFERENCE_TYPES)
        if not flags & 0x01:
            found.const_expr(read_const_expr(reader), info.num_imported_globals)
        if flags & 0x03:
            if flags & 0x04:
                element_type = read_valtype(reader)
                found.valtype(element_type)
                if element_type != "funcref":
                    found.add(EXTERNREF_SEGMENTS)
            else:
                reader.u8()
        for _ in range(reader.u32()):
            if flags & 0x04:
                item = read_const_expr(reader)
                found.const_expr(item, info.num_imported_globals)
                if item.global_index is not None:
                    found.add(GLOBAL_ELEMENT_ITEMS)
            else:
                reader.u32()


def _data_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    for _ in range(reader.u32()):
        flags = reader.u32()
        if flags == 1:
            found.add(BULK_MEMORY)
        else:
            if flags == 2 and reader.u32():
                found.add(MULTI_MEMORY)
            found.const_expr(read_const_expr(reader), info.num_imported_globals)
        reader.skip(reader.u32())


def _code_section(reader: Reader, info: ModuleInfo, found: _Found) -> None:
    wasm = reader.data
    for _ in range(reader.u32()):
        size = reader.u32()
        end = reader.pos + size
        body = Reader(wasm, reader.pos, end, reader.what)
        for _ in range(body.u32()):
            body.u32()
            found.valtype(read_valtype(body))
        _scan_body(wasm, body.pos, end, found)
        reader.pos = end


_SECTIONS = {
    m.TYPE: _type_section,
    m.IMPORT: _import_section,
    m.TABLE: _table_section,
    m.MEMORY: _memory_section,
    m.GLOBAL: _global_section,
    m.ELEMENT: _element_section,
    m.DATA: _data_section,
    m.DATACOUNT: lambda reader, info, found: found.add(BULK_MEMORY),
    m.TAG: lambda reader, info, found: found.add(EXCEPTIONS),
    m.CODE: _code_section,
}
