"""`read_module_info`: what a module imports, exports and declares, without an engine.

It walks the section headers and the small declaration sections only; function bodies
(the code section) are never decoded, so inspecting a multi-megabyte module costs about
as much as reading its import and export tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import module as m
from .constexpr import skip_const_expr
from .errors import WasmFormatError
from .reader import Reader
from .valtypes import FuncType, read_type_section, read_valtype, skip_valtype

KIND_NAMES = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}

_LIMIT_HAS_MAX = 0x01
_LIMIT_SHARED = 0x02
_LIMIT_64 = 0x04
_LIMIT_PAGE_SIZE = 0x08


@dataclass(frozen=True)
class Import:
    module: str
    name: str
    kind: str  # "func" | "table" | "memory" | "global" | "tag"
    index: int  # index in the import's own index space (functions, memories, ...)
    signature: FuncType | None = None  # functions and tags


@dataclass(frozen=True)
class Export:
    name: str
    kind: str
    index: int
    signature: FuncType | None = None  # functions


@dataclass(frozen=True)
class MemoryInfo:
    index: int
    min_pages: int
    max_pages: int | None
    is_64: bool = False
    shared: bool = False
    imported: bool = False
    export_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableInfo:
    index: int
    element_type: str
    min_size: int
    max_size: int | None
    is_64: bool = False
    imported: bool = False


@dataclass(frozen=True)
class ModuleInfo:
    """The declarations of a module, as `wasmcli inspect` and the ABI check need them."""

    types: tuple[FuncType | None, ...]
    imports: tuple[Import, ...]
    exports: tuple[Export, ...]
    memories: tuple[MemoryInfo, ...]
    tables: tuple[TableInfo, ...]
    function_types: tuple[FuncType, ...]  # by function index, imported functions first
    num_imported_functions: int
    num_globals: int
    num_imported_globals: int
    start: int | None
    custom_sections: tuple[str, ...]  # names, in file order
    data_count: int  # data segments
    # From the "name" custom section, by function index; read-only, and left out of the
    # hash so that the record stays usable as a key.
    function_names: Mapping[int, str] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    @property
    def num_functions(self) -> int:
        return len(self.function_types)

    @property
    def num_defined_functions(self) -> int:
        return len(self.function_types) - self.num_imported_functions

    def export(self, name: str) -> Export | None:
        for item in self.exports:
            if item.name == name:
                return item
        return None


@dataclass
class _Parsed:
    """What the rewriters need beyond ModuleInfo: raw type indices and section positions."""

    info: ModuleInfo
    sections: list[m.Section]
    function_type_indices: list[int]


def read_module_info(wasm: bytes) -> ModuleInfo:
    """Describe a module's imports, exports, memories and names.

    Raises WasmFormatError (one line) for anything that is not a well-framed core module.
    """
    return parse(m.as_bytes(wasm)).info


def _limits(reader: Reader) -> tuple[int, int | None, int]:
    start = reader.pos
    flags = reader.u8()
    if flags & ~0x0F:
        raise WasmFormatError(
            f"invalid limits flags {flags:#04x} in {reader.what} at byte {start:#x}"
        )
    read = reader.u64 if flags & _LIMIT_64 else reader.u32
    minimum = read()
    maximum = read() if flags & _LIMIT_HAS_MAX else None
    if flags & _LIMIT_PAGE_SIZE:
        reader.u32()
    return minimum, maximum, flags


def _table_type(reader: Reader, index: int, imported: bool) -> TableInfo:
    element = read_valtype(reader)
    minimum, maximum, flags = _limits(reader)
    return TableInfo(index, element, minimum, maximum, bool(flags & _LIMIT_64), imported)


def _memory_type(reader: Reader, index: int, imported: bool) -> MemoryInfo:
    minimum, maximum, flags = _limits(reader)
    return MemoryInfo(
        index, minimum, maximum, bool(flags & _LIMIT_64), bool(flags & _LIMIT_SHARED), imported
    )


def _signature(types: list[FuncType | None], type_index: int, reader: Reader) -> FuncType:
    if type_index >= len(types):
        raise WasmFormatError(f"type index {type_index} out of range in {reader.what}")
    sig = types[type_index]
    if sig is None:
        raise WasmFormatError(f"type index {type_index} in {reader.what} is not a function type")
    return sig


def _function_names(wasm: bytes, section: m.Section) -> dict[int, str]:
    """Subsection 1 of the "name" section. Engines ignore a damaged name section, so this
    does too: whatever cannot be read is left out rather than failing the module."""
    names: dict[int, str] = {}
    reader = Reader(wasm, section.payload_start, section.end, "the name section")
    try:
        reader.name()
        while not reader.at_end():
            sub_id = reader.u8()
            size = reader.u32()
            sub = Reader(wasm, reader.pos, reader.pos + size, "the name section")
            reader.skip(size)
            if sub_id != 1:
                continue
            for _ in range(sub.u32()):
                index = sub.u32()
                names[index] = sub.name()
    except WasmFormatError:
        pass
    return names


def parse(wasm: bytes) -> _Parsed:
    """Parse everything ModuleInfo holds; `wasm` must be `bytes` (see `as_bytes`)."""
    sections = m.split_sections(wasm)
    types: list[FuncType | None] = []
    imports: list[Import] = []
    exports: list[Export] = []
    memories: list[MemoryInfo] = []
    tables: list[TableInfo] = []
    func_types: list[FuncType] = []
    func_type_indices: list[int] = []
    customs: list[str] = []
    names: dict[int, str] = {}
    counts = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}
    num_imported_globals = 0
    num_globals = 0
    num_imported_functions = 0
    start: int | None = None
    data_count: int | None = None
    datacount_value: int | None = None
    code_count: int | None = None

    for section in sections:
        sid = section.id
        reader = section.reader(wasm)
        if sid == m.CUSTOM:
            name = reader.name()
            customs.append(name)
            if name == "name":
                names = _function_names(wasm, section)
            continue
        if sid == m.TYPE:
            types = read_type_section(reader)
        elif sid == m.IMPORT:
            for _ in range(reader.u32()):
                module_name = reader.name()
                field_name = reader.name()
                kind_pos = reader.pos
                kind = reader.u8()
                kind_name = KIND_NAMES.get(kind)
                if kind_name is None:
                    raise WasmFormatError(
                        f"unknown import kind {kind:#04x} in {reader.what} at byte {kind_pos:#x}"
                    )
                index = counts[kind]
                counts[kind] += 1
                sig = None
                if kind == 0:
                    type_index = reader.u32()
                    sig = _signature(types, type_index, reader)
                    func_types.append(sig)
                    func_type_indices.append(type_index)
                elif kind == 1:
                    tables.append(_table_type(reader, index, True))
                elif kind == 2:
                    memories.append(_memory_type(reader, index, True))
                elif kind == 3:
                    skip_valtype(reader)
                    reader.u8()
                else:
                    reader.u8()  # tag attribute (0 = exception)
                    sig = _signature(types, reader.u32(), reader)
                imports.append(Import(module_name, field_name, kind_name, index, sig))
            num_imported_functions = counts[0]
            num_imported_globals = num_globals = counts[3]
        elif sid == m.FUNCTION:
            count = reader.u32()
            if reader.end - reader.pos == count:  # every type index fits in one byte
                indices = list(wasm[reader.pos : reader.end])
                if any(i >= 0x80 for i in indices):
                    raise WasmFormatError(f"malformed {reader.what}")
                reader.pos = reader.end
            else:
                indices = [reader.u32() for _ in range(count)]
            func_type_indices.extend(indices)
            cache: dict[int, FuncType] = {}
            for type_index in indices:
                sig = cache.get(type_index)
                if sig is None:
                    sig = cache[type_index] = _signature(types, type_index, reader)
                func_types.append(sig)
        elif sid == m.TABLE:
            for _ in range(reader.u32()):
                index = counts[1]
                counts[1] += 1
                if reader.pos + 1 < reader.end and wasm[reader.pos : reader.pos + 2] == b"\x40\x00":
                    reader.skip(2)
                    tables.append(_table_type(reader, index, False))
                    skip_const_expr(reader)
                else:
                    tables.append(_table_type(reader, index, False))
        elif sid == m.MEMORY:
            for _ in range(reader.u32()):
                memories.append(_memory_type(reader, counts[2], False))
                counts[2] += 1
        elif sid == m.GLOBAL:
            # Only the count: global initialisers do not matter to any caller.
            num_globals += reader.u32()
            reader.pos = reader.end
        elif sid == m.EXPORT:
            seen: set[str] = set()
            for _ in range(reader.u32()):
                name = reader.name()
                if name in seen:
                    raise WasmFormatError(f"duplicate export name {name!r}")
                seen.add(name)
                kind_pos = reader.pos
                kind = reader.u8()
                kind_name = KIND_NAMES.get(kind)
                if kind_name is None:
                    raise WasmFormatError(
                        f"unknown export kind {kind:#04x} in {reader.what} at byte {kind_pos:#x}"
                    )
                exports.append(Export(name, kind_name, reader.u32()))
        elif sid == m.START:
            start = reader.u32()
        elif sid == m.DATACOUNT:
            datacount_value = reader.u32()
        elif sid == m.DATA:
            data_count = reader.u32()
            reader.pos = reader.end
        elif sid == m.CODE:
            code_count = reader.u32()
            reader.pos = reader.end
        else:  # element, tag: nothing a caller asks about
            reader.pos = reader.end
        reader.expect_end()

    num_defined = len(func_types) - num_imported_functions
    if (code_count or 0) != num_defined:
        raise WasmFormatError(
            f"function and code section counts differ ({num_defined} declared, "
            f"{code_count or 0} bodies)"
        )
    exports = [_with_signature(e, func_types) for e in exports]
    memories = [_with_export_names(mem, exports) for mem in memories]
    if start is not None and start >= len(func_types):
        raise WasmFormatError(f"start function index {start} out of range")

    info = ModuleInfo(
        types=tuple(types),
        imports=tuple(imports),
        exports=tuple(exports),
        memories=tuple(memories),
        tables=tuple(tables),
        function_types=tuple(func_types),
        num_imported_functions=num_imported_functions,
        num_globals=num_globals,
        num_imported_globals=num_imported_globals,
        start=start,
        custom_sections=tuple(customs),
        data_count=data_count if data_count is not None else (datacount_value or 0),
        function_names=MappingProxyType(names),
    )
    return _Parsed(info, sections, func_type_indices)


def _with_signature(export: Export, func_types: list[FuncType]) -> Export:
    if export.kind == "func":
        if export.index >= len(func_types):
            raise WasmFormatError(
                f"export {export.name!r} refers to function {export.index}, which does not exist"
            )
        return Export(export.name, export.kind, export.index, func_types[export.index])
    return export


def _with_export_names(memory: MemoryInfo, exports: list[Export]) -> MemoryInfo:
    names = tuple(e.name for e in exports if e.kind == "memory" and e.index == memory.index)
    if not names:
        return memory
    return dataclasses.replace(memory, export_names=names)
