"""Value types and function types as read from the type, import and global sections.

Types are rendered as the short names `wasmcli inspect` prints ("i32", "funcref"); the
typed-reference forms of the function-references and GC proposals are rendered in WAT
syntax ("(ref null 3)", "(ref func)") so that a signature is still readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import WasmFormatError
from .reader import Reader

NUMERIC = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}

# Abstract heap types, by their one-byte code; also the shorthand reference types.
HEAP_TYPES = {
    0x70: "func",
    0x6F: "extern",
    0x6E: "any",
    0x6D: "eq",
    0x6C: "i31",
    0x6B: "struct",
    0x6A: "array",
    0x69: "exn",
    0x71: "none",
    0x72: "noextern",
    0x73: "nofunc",
    0x74: "noexn",
}
REF_NULL = 0x63
REF = 0x64
PACKED = {0x78: "i8", 0x77: "i16"}


@dataclass(frozen=True)
class FuncType:
    """A function signature: parameter and result type names."""

    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        results = ", ".join(self.results)
        return f"({', '.join(self.params)}) -> ({results})"


def heap_type_name(reader: Reader) -> str:
    start = reader.pos
    value = reader.s33()
    if value >= 0:
        return str(value)
    code = value + 0x80
    name = HEAP_TYPES.get(code)
    if name is None:
        raise WasmFormatError(f"unknown heap type {code:#04x} in {reader.what} at byte {start:#x}")
    return name


def read_valtype(reader: Reader) -> str:
    start = reader.pos
    code = reader.u8()
    name = NUMERIC.get(code)
    if name is not None:
        return name
    heap = HEAP_TYPES.get(code)
    if heap is not None:
        return heap + "ref"
    if code == REF_NULL or code == REF:
        heap = heap_type_name(reader)
        if code == REF_NULL and heap in ("func", "extern"):
            return heap + "ref"
        return f"(ref null {heap})" if code == REF_NULL else f"(ref {heap})"
    raise WasmFormatError(f"unknown value type {code:#04x} in {reader.what} at byte {start:#x}")


def read_valtypes(reader: Reader) -> tuple[str, ...]:
    return tuple(read_valtype(reader) for _ in range(reader.u32()))


def read_type_section(reader: Reader) -> list[FuncType | None]:
    """Every entry of the type index space; None for struct and array (GC) types."""
    types: list[FuncType | None] = []
    for _ in range(reader.u32()):
        form = reader.u8()
        if form == 0x4E:  # rec group: each member takes its own type index
            for _ in range(reader.u32()):
                types.append(_read_subtype(reader, reader.u8()))
        else:
            types.append(_read_subtype(reader, form))
    return types


def _read_subtype(reader: Reader, form: int) -> FuncType | None:
    if form in (0x50, 0x4F):  # sub / sub final: supertypes, then the composite type
        for _ in range(reader.u32()):
            reader.u32()
        form = reader.u8()
    if form == 0x60:
        params = read_valtypes(reader)
        return FuncType(params, read_valtypes(reader))
    if form == 0x5F:
        for _ in range(reader.u32()):
            _read_field(reader)
        return None
    if form == 0x5E:
        _read_field(reader)
        return None
    raise WasmFormatError(
        f"unknown type form {form:#04x} in {reader.what} at byte {reader.pos - 1:#x}"
    )


def _read_field(reader: Reader) -> None:
    if reader.pos < reader.end and reader.data[reader.pos] in PACKED:
        reader.u8()
    else:
        read_valtype(reader)
    reader.u8()  # mutability


def skip_valtype(reader: Reader) -> None:
    code = reader.u8()
    if code == REF_NULL or code == REF:
        reader.skip_leb()
