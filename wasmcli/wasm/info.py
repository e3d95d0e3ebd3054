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
    module = _ModuleReader(wasm)
    for section in sections:
        reader = section.reader(wasm)
        if section.id == m.CUSTOM:
            module.custom(reader, section)
            continue
        module.SECTION_READERS[section.id](module, reader)
        reader.expect_end()
    return _Parsed(module.finish(), sections, module.func_type_indices)


class _ModuleReader:
    """Reads the declaration sections one at a time, in file order, into a ModuleInfo."""

    def __init__(self, wasm: bytes) -> None:
        self.wasm = wasm
        self.types: list[FuncType | None] = []
        self.imports: list[Import] = []
        self.exports: list[Export] = []
        self.memories: list[MemoryInfo] = []
        self.tables: list[TableInfo] = []
        self.func_types: list[FuncType] = []
        self.func_type_indices: list[int] = []
        self.customs: list[str] = []
        self.names: dict[int, str] = {}
        self.counts = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}  # imported + defined, by kind
        self.num_imported_functions = 0
        self.num_imported_globals = 0
        self.start: int | None = None
        self.data_count: int | None = None
        self.datacount_value: int | None = None
        self.code_count = 0

    def custom(self, reader: Reader, section: m.Section) -> None:
        name = reader.name()
        self.customs.append(name)
        if name == "name":
            self.names = _function_names(self.wasm, section)

    def type_section(self, reader: Reader) -> None:
        self.types = read_type_section(reader)

    def import_section(self, reader: Reader) -> None:
        counts = self.counts
        for _ in range(reader.u32()):
            module_name = reader.name()
            field_name = reader.name()
            kind = _kind(reader, "import")
            index = counts[kind]
            counts[kind] += 1
            sig = None
            if kind == 0:
                type_index = reader.u32()
                sig = _signature(self.types, type_index, reader)
                self.func_types.append(sig)
                self.func_type_indices.append(type_index)
            elif kind == 1:
                self.tables.append(_table_type(reader, index, True))
            elif kind == 2:
                self.memories.append(_memory_type(reader, index, True))
            elif kind == 3:
                skip_valtype(reader)
                reader.u8()
            else:
                reader.u8()  # tag attribute (0 = exception)
                sig = _signature(self.types, reader.u32(), reader)
            self.imports.append(Import(module_name, field_name, KIND_NAMES[kind], index, sig))
        self.num_imported_functions = counts[0]
        self.num_imported_globals = counts[3]

    def function_section(self, reader: Reader) -> None:
        count = reader.u32()
        if reader.end - reader.pos == count:  # every type index fits in one byte
            indices = list(self.wasm[reader.pos : reader.end])
            if any(i >= 0x80 for i in indices):
                raise WasmFormatError(f"malformed {reader.what}")
            reader.pos = reader.end
        else:
            indices = [reader.u32() for _ in range(count)]
        self.func_type_indices.extend(indices)
        cache: dict[int, FuncType] = {}
        for type_index in indices:
            sig = cache.get(type_index)
            if sig is None:
                sig = cache[type_index] = _signature(self.types, type_index, reader)
            self.func_types.append(sig)

    def table_section(self, reader: Reader) -> None:
        for _ in range(reader.u32()):
            index = self.counts[1]
            self.counts[1] += 1
            initialised = (
                reader.pos + 1 < reader.end
                and reader.data[reader.pos : reader.pos + 2] == b"\x40\x00"
            )
            if initialised:
                reader.skip(2)
            self.tables.append(_table_type(reader, index, False))
            if initialised:
                skip_const_expr(reader)

    def memory_section(self, reader: Reader) -> None:
        for _ in range(reader.u32()):
            self.memories.append(_memory_type(reader, self.counts[2], False))
            self.counts[2] += 1

    def global_section(self, reader: Reader) -> None:
        # Only the count: initialisers matter to the fuel pass alone (startup.py).
        self.counts[3] += reader.u32()
        reader.pos = reader.end

    def export_section(self, reader: Reader) -> None:
        seen: set[str] = set()
        for _ in range(reader.u32()):
            name = reader.name()
            if name in seen:
                raise WasmFormatError(f"duplicate export name {name!r}")
            seen.add(name)
            kind = _kind(reader, "export")
            self.exports.append(Export(name, KIND_NAMES[kind], reader.u32()))

    def start_section(self, reader: Reader) -> None:
        self.start = reader.u32()

    def datacount_section(self, reader: Reader) -> None:
        self.datacount_value = reader.u32()

    def data_section(self, reader: Reader) -> None:
        self.data_count = reader.u32()
        reader.pos = reader.end  # segments: read by the passes that need them

    def code_section(self, reader: Reader) -> None:
        self.code_count = reader.u32()
        reader.pos = reader.end  # bodies: decoded only by the fuel pass

    def other_section(self, reader: Reader) -> None:
        reader.pos = reader.end  # element, tag: nothing a caller asks about

    SECTION_READERS = {
        m.TYPE: type_section,
        m.IMPORT: import_section,
        m.FUNCTION: function_section,
        m.TABLE: table_section,
        m.MEMORY: memory_section,
        m.GLOBAL: global_section,
        m.EXPORT: export_section,
        m.START: start_section,
        m.ELEMENT: other_section,
        m.DATACOUNT: datacount_section,
        m.CODE: code_section,
        m.DATA: data_section,
        m.TAG: other_section,
    }

    def finish(self) -> ModuleInfo:
        """Check what spans sections, and build the record."""
        func_types = self.func_types
        num_defined = len(func_types) - self.num_imported_functions
        if self.code_count != num_defined:
            raise WasmFormatError(
                f"function and code section counts differ ({num_defined} declared, "
                f"{self.code_count} bodies)"
            )
        if self.start is not None and self.start >= len(func_types):
            raise WasmFormatError(f"start function index {self.start} out of range")
        exports = [_with_signature(e, func_types) for e in self.exports]
        data_count = self.data_count if self.data_count is not None else self.datacount_value
        return ModuleInfo(
            types=tuple(self.types),
            imports=tuple(self.imports),
            exports=tuple(exports),
            memories=tuple(_with_export_names(mem, exports) for mem in self.memories),
            tables=tuple(self.tables),
            function_types=tuple(func_types),
            num_imported_functions=self.num_imported_functions,
            num_globals=self.counts[3],
            num_imported_globals=self.num_imported_globals,
            start=self.start,
            custom_sections=tuple(self.customs),
            data_count=data_count or 0,
            function_names=MappingProxyType(self.names),
        )


def _kind(reader: Reader, what: str) -> int:
    pos = reader.pos
    kind = reader.u8()
    if kind not in KIND_NAMES:
        raise WasmFormatError(f"unknown {what} kind {kind:#04x} in {reader.what} at byte {pos:#x}")
    return kind


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
