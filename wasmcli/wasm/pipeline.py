"""Composing bytecode passes: one parse of the module, every pass's edits, one rebuild.

wasmcli rewrites a plugin before an engine compiles it. Each rewrite is a *pass*
(`Pass`): it reads the module through a `ModuleEditor` and records what it changes:
globals, exports, types and functions it appends, sections it replaces, and a rewriter
for every function body. `apply_passes` parses the module once, lets each pass record its
edits in order, runs each body through the passes' rewriters in that same order, and
rebuilds the module once.

The order is fixed, and it is what makes the passes compose:

1. `ResourceLimit` (memory_limit.py): lowers memory and table maxima; sections only.
2. `CallDepth` (depth.py): counts frames at function entry and exit.
3. `FuelProfile` (profile.py), with `run --profile`: events at entries and exits.
4. `Fuel` (fuel.py), on engines without native fuel: meters every operator, those the
   passes before it added included, exactly as wasmtime's native fuel charges them.

So whatever counts fuel (wasmtime natively, or the fuel pass) charges an instrumenting
pass's operators like the plugin's own. Such a pass refunds them: it adds, at each
function entry, the fuel its code in that call costs (known statically) to the shared
i64 global exported as `OVERHEAD_EXPORT` (`ModuleEditor.overhead_global`), and the host
reports the fuel counted less that global. The refund is exact for a completed call;
the limit itself is spent on both (see docs/design.md, "Fuel").

Rules a pass follows:
- globals it adds are single numeric constants, and it adds no segments (so what
  wasmtime charges at instantiation, which the fuel pass reproduces, is unchanged);
- functions it appends are written as they are: later passes do not rewrite them;
- `key()` names everything that changes the code it emits (its version and settings):
  the engines put every pass's key into the compiled-module cache key.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import module as m
from .errors import WasmFormatError
from .info import ModuleInfo, parse
from .leb128 import encode_u
from .reader import Reader
from .valtypes import FuncType, skip_valtype

OVERHEAD_EXPORT = "__wasmcli_overhead"

EXPORT_FUNC = 0x00
EXPORT_GLOBAL = 0x03
# (global (mut i64) (i64.const 0))
_I64_ZERO_GLOBAL = b"\x7e\x01\x42\x00\x0b"


@dataclass(frozen=True)
class FunctionSite:
    """A defined function, as a body rewriter sees it."""

    index: int  # in the function index space (imports first)
    type: FuncType
    type_index: int
    file_offset: int  # where its body starts in the plugin's own bytes (for messages)


# A body rewriter: (data, start, end, site) -> the new body (locals and code). The body is
# data[start:end]; the first pass reads the module's bytes in place, later ones the
# previous pass's output.
BodyRewriter = Callable[[bytes, int, int, FunctionSite], "BodyEdit"]


@dataclass(frozen=True)
class BodyEdit:
    """A rewritten body, and where bytes were inserted when the pass says so: each splice
    is (position in the input body, bytes inserted there). None: not tracked."""

    body: bytes
    splices: tuple[tuple[int, int], ...] | None = None


class Pass(Protocol):
    """One bytecode pass (see the module docstring)."""

    def key(self) -> tuple[object, ...]:
        """Its part of the compiled-module cache key: name, version, settings."""
        ...

    def apply(self, module: ModuleEditor) -> None:
        """Record the pass's edits on `module`; WasmFormatError to refuse the module."""
        ...


class ModuleEditor:
    """One parse of a module and the edits the passes record on it."""

    def __init__(self, wasm: bytes) -> None:
        self.wasm = m.as_bytes(wasm)
        parsed = parse(self.wasm)
        self.info: ModuleInfo = parsed.info
        self.sections = parsed.sections
        self.function_type_indices = parsed.function_type_indices
        self.by_id = {s.id: s for s in self.sections if s.id != m.CUSTOM}
        self._globals: list[bytes] = []
        self._exports: list[bytes] = []
        self._export_names = {export.name for export in self.info.exports}
        self._types: list[bytes] = []
        self._type_indices: dict[bytes, int] = {}
        self._functions: list[tuple[int, bytes]] = []
        self._replaced: dict[int, bytes | None] = {}
        self._rewriters: list[BodyRewriter] = []
        self._overhead: int | None = None
        self._results: list[bytes] | None = None
        self._imports: list[bytes] = []

    # -- what passes add --------------------------------------------------------------

    @property
    def num_globals(self) -> int:
        return self.info.num_globals + len(self._globals)

    @property
    def num_functions(self) -> int:
        return self.info.num_functions + len(self._imports) + len(self._functions)

    def function_index(self, original: int) -> int:
        """Where a function of the module is in the output: the functions it defines
        move up by one for each function a pass imports (renumber.py)."""
        if original < self.info.num_imported_functions:
            return original
        return original + len(self._imports)

    def import_function(self, module: str, name: str, type_index: int) -> int:
        """Import a function (after the module's own imports); its index. Every function
        the module defines moves up by one: bodies, exports, elements, the start section
        and names are renumbered when the module is built, and `function_index` tells
        passes where a function went. Call it before any pass appends functions."""
        if self._functions:
            raise ValueError("import functions before appending any")
        entry = b""
        for text in (module, name):
            raw = text.encode("utf-8")
            entry += encode_u(len(raw)) + raw
        self._imports.append(entry + b"\x00" + encode_u(type_index))
        return self.info.num_imported_functions + len(self._imports) - 1

    def add_global(self, entry: bytes) -> int:
        """Append a global (its type, mutability and constant initialiser); its index."""
        self._globals.append(entry)
        return self.num_globals - 1

    def add_export(self, name: str, kind: int, index: int) -> None:
        if name in self._export_names:
            raise WasmFormatError(f"module already exports {name!r}: is it instrumented already?")
        self._export_names.add(name)
        raw = name.encode("utf-8")
        self._exports.append(encode_u(len(raw)) + raw + bytes((kind,)) + encode_u(index))

    def function_type(self, params: bytes, results: bytes) -> int:
        """The index of a function type with these parameter and result vectors (encoded,
        count first), appending one unless an identical entry was appended already; a
        `() -> ()` type the module declares itself as a plain entry is reused (not one of
        a recursion group or a subtype: those are other types, which an import of that
        type would not match)."""
        entry = b"\x60" + params + results
        if entry == b"\x60\x00\x00":
            plain = _plain_unit_type(self.wasm, self.by_id.get(m.TYPE))
            if plain is not None:
                return plain
        found = self._type_indices.get(entry)
        if found is None:
            found = len(self.info.types) + len(self._types)
            self._types.append(entry)
            self._type_indices[entry] = found
        return found

    def add_function(self, type_index: int, body: bytes) -> int:
        """Append a function with this (final) body; its index."""
        self._functions.append((type_index, body))
        return self.num_functions - 1

    def replace_section(self, section_id: int, payload: bytes | None) -> None:
        """A new payload for a section (None: drop it)."""
        self._replaced[section_id] = payload

    def rewrite_bodies(self, rewriter: BodyRewriter) -> None:
        """Run every function body of the module through `rewriter`, after the rewriters
        of the passes before this one."""
        self._rewriters.append(rewriter)

    def overhead_global(self) -> int:
        """The shared i64 global in which instrumenting passes refund the fuel their own
        operators cost (exported as OVERHEAD_EXPORT; see the module docstring)."""
        if self._overhead is None:
            self._overhead = self.add_global(_I64_ZERO_GLOBAL)
            self.add_export(OVERHEAD_EXPORT, EXPORT_GLOBAL, self._overhead)
        return self._overhead

    # -- reading the module -----------------------------------------------------------

    def section_reader(self, section_id: int) -> Reader | None:
        section = self.by_id.get(section_id)
        return None if section is None else section.reader(self.wasm)

    def results_vector(self, type_index: int) -> bytes:
        """The encoded result vector (count first) of a function type, from the type
        section as the module wrote it."""
        if self._results is None:
            self._results = _raw_result_vectors(self.wasm, self.by_id.get(m.TYPE))
        return self._results[type_index]

    @property
    def changed(self) -> bool:
        return bool(
            self._rewriters
            or self._imports
            or self._functions
            or self._globals
            or self._exports
            or self._types
            or self._replaced
        )

    # -- writing it -------------------------------------------------------------------

    def build(self) -> tuple[bytes, list[_BodyMap]]:
        replaced = dict(self._replaced)
        maps: list[_BodyMap] = []
        base: dict[int, bytes] = {}
        if self._imports:
            # Renumbering runs first on every body, before the passes' rewriters (whose
            # calls to imported functions already use their final indices).
            self._rewriters.insert(0, self._shift_rewriter())
            base = self._shifted_sections()
            replaced.update(base)
        # The bodies first: a rewriter may still add types (a block type, say).
        if (self._rewriters and m.CODE in self.by_id) or self._functions:
            replaced[m.CODE] = self._code(maps)
        for section_id, added in (
            (m.TYPE, self._types),
            (m.IMPORT, self._imports),
            (m.GLOBAL, self._globals),
            (m.EXPORT, self._exports),
            (m.FUNCTION, [encode_u(t) for t, _ in self._functions]),
        ):
            if added:
                replaced[section_id] = self._vec_append(section_id, added, base.get(section_id))
        out = m.rebuild(self.wasm, self.sections, replaced)
        if self._imports:
            out = _shift_name_section(out, self.function_index)
        return out, maps

    def _shift_rewriter(self) -> BodyRewriter:
        from .renumber import shift_body

        def shift(data: bytes, start: int, end: int, site: FunctionSite) -> BodyEdit:
            code_start = locals_end(data, start, end, f"the body of function {site.index}")
            body, splices = shift_body(
                data, start, end, code_start, self.function_index, f"function {site.index}"
            )
            return BodyEdit(body, splices)

        return shift

    def _shifted_sections(self) -> dict[int, bytes]:
        """The sections that name functions by index, with the defined ones shifted."""
        from . import renumber

        shift = self.function_index
        out: dict[int, bytes] = {}
        for section_id, rewrite in (
            (m.EXPORT, renumber.shift_exports),
            (m.GLOBAL, renumber.shift_globals),
            (m.TABLE, renumber.shift_tables),
            (m.ELEMENT, renumber.shift_elements),
        ):
            reader = self.section_reader(section_id)
            if reader is not None and section_id not in self._replaced:
                out[section_id] = rewrite(reader, shift)
        if self.info.start is not None and m.START not in self._replaced:
            out[m.START] = encode_u(shift(self.info.start))
        return out

    def _vec_append(self, section_id: int, added: list[bytes], payload: bytes | None) -> bytes:
        """The payload of a vector section (`payload`, else the module's own) with
        entries appended after the existing ones."""
        if payload is None:
            section = self.by_id.get(section_id)
            if section is None:
                return encode_u(len(added)) + b"".join(added)
            payload = self.wasm[section.payload_start : section.end]
        reader = Reader(payload, 0, len(payload), m.describe(section_id))
        count = reader.u32()
        return encode_u(count + len(added)) + payload[reader.pos :] + b"".join(added)

    def _code(self, maps: list[_BodyMap]) -> bytes:
        wasm = self.wasm
        info = self.info
        parts: list[bytes] = []
        count = 0
        section = self.by_id.get(m.CODE)
        if section is not None:
            reader = section.reader(wasm)
            count = reader.u32()
            index = info.num_imported_functions
            for _ in range(count):
                size = reader.u32()
                start = reader.pos
                reader.skip(size)
                site = FunctionSite(
                    index,
                    info.function_types[index],
                    self.function_type_indices[index],
                    start,
                )
                data, lo, hi = wasm, start, start + size
                splices: list[tuple[int, int]] | None = []
                for rewrite in self._rewriters:
                    edit = rewrite(data, lo, hi, site)
                    splices = _compose(splices, edit.splices)
                    data, lo, hi = edit.body, 0, len(edit.body)
                body = data[lo:hi]
                maps.append(_BodyMap(start, size, tuple(splices) if splices is not None else None))
                parts.append(encode_u(len(body)))
                parts.append(body)
                index += 1
            reader.expect_end()
        for _, body in self._functions:
            parts.append(encode_u(len(body)))
            parts.append(body)
        return encode_u(count + len(self._functions)) + b"".join(parts)


def _shift_name_section(wasm: bytes, shift: Callable[[int], int]) -> bytes:
    """`wasm` with the function indices of its "name" section shifted."""
    from .renumber import shift_names

    parts = [wasm[:8]]
    for section in m.split_sections(wasm):
        if section.id == m.CUSTOM:
            reader = section.reader(wasm)
            start = reader.pos
            if reader.name() == "name":
                payload = shift_names(Reader(wasm, start, section.end, "the name section"), shift)
                if payload:
                    parts.append(m.encode_section(m.CUSTOM, payload))
                continue
        parts.append(wasm[section.start : section.end])
    return b"".join(parts)


def _compose(
    before: list[tuple[int, int]] | None, after: Sequence[tuple[int, int]] | None
) -> list[tuple[int, int]] | None:
    """Splices of two rewrites in a row, in terms of the first one's input; None (not
    tracked) when either is."""
    if before is None or after is None:
        return None
    if not before:
        return list(after)
    if not after:
        return before
    # Map each later splice back to a position in the original body: an insertion made
    # inside bytes an earlier pass inserted belongs to that earlier insertion's spot.
    merged = list(before)
    for position, length in after:
        original = _to_original(before, position)
        merged.append((original, length))
    merged.sort(key=lambda splice: splice[0])
    return merged


def _to_original(splices: Sequence[tuple[int, int]], position: int) -> int:
    """A position in a rewritten body, as a position in the body before the rewrite (a
    position inside inserted bytes maps to where they were inserted)."""
    shift = 0
    for at, length in splices:  # sorted by position
        if position < at + shift:
            break
        if position < at + shift + length:
            return at
        shift += length
    return position - shift


@dataclass(frozen=True)
class _BodyMap:
    """One function body: where it was in the input, and what was inserted into it."""

    start: int  # its first byte (after the size) in the input module
    size: int
    splices: tuple[tuple[int, int], ...] | None


@dataclass(frozen=True)
class OffsetMap:
    """Translates byte offsets in a rewritten module back to the module it came from, so
    that a backtrace names the plugin's own bytes. Offsets inside code a pass inserted
    map to where it was inserted; an offset it cannot place is returned unchanged."""

    bodies: tuple[_BodyMap, ...]
    new_starts: tuple[int, ...]  # each body's first byte in the rewritten module
    new_sizes: tuple[int, ...]

    def to_original(self, offset: int) -> int:
        found = self._locate(offset)
        if found is None:
            return offset
        body, position = found
        assert body.splices is not None
        return body.start + _to_original(body.splices, position)

    def inserted(self, offset: int) -> bool:
        """Whether `offset` is in code a pass inserted (not the plugin's own)."""
        found = self._locate(offset)
        if found is None:
            return False
        body, position = found
        assert body.splices is not None
        shift = 0
        for at, length in body.splices:
            if position < at + shift:
                return False
            if position < at + shift + length:
                return True
            shift += length
        return False

    def _locate(self, offset: int) -> tuple[_BodyMap, int] | None:
        """The body holding `offset`, and the offset within it; None when the offset is
        outside every body or its body's splices were not tracked."""
        which = bisect_right(self.new_starts, offset) - 1
        if which < 0 or offset >= self.new_starts[which] + self.new_sizes[which]:
            return None
        body = self.bodies[which]
        if body.splices is None:
            return None
        return body, offset - self.new_starts[which]


def _body_starts(wasm: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    starts: list[int] = []
    sizes: list[int] = []
    for section in m.split_sections(wasm):
        if section.id == m.CODE:
            reader = section.reader(wasm)
            for _ in range(reader.u32()):
                size = reader.u32()
                starts.append(reader.pos)
                sizes.append(size)
                reader.skip(size)
    return tuple(starts), tuple(sizes)


@dataclass
class Rewritten:
    """The output of `apply_passes`."""

    wasm: bytes
    _maps: list[_BodyMap] = field(repr=False)

    def offset_map(self) -> OffsetMap:
        starts, sizes = _body_starts(self.wasm)
        bodies = tuple(self._maps)
        return OffsetMap(bodies, starts[: len(bodies)], sizes[: len(bodies)])


def apply_passes(wasm: bytes, passes: Sequence[Pass]) -> Rewritten:
    """The module rewritten by `passes`, in order (see the module docstring).

    Raises WasmFormatError for a malformed module or one a pass refuses, and whatever a
    pass raises to refuse a module (ResourcesAboveLimit).
    """
    editor = ModuleEditor(wasm)
    for pass_ in passes:
        pass_.apply(editor)
    if not editor.changed:
        return Rewritten(editor.wasm, [])
    out, maps = editor.build()
    return Rewritten(out, maps)


def rewrite(wasm: bytes, passes: Sequence[Pass]) -> bytes:
    """`apply_passes(...).wasm`."""
    return apply_passes(wasm, passes).wasm


def cache_key_parts(passes: Sequence[Pass]) -> tuple[object, ...]:
    """Every pass's key, flattened, for the compiled-module cache key."""
    return tuple(part for pass_ in passes for part in pass_.key())


def locals_end(data: bytes, start: int, end: int, where: str) -> int:
    """Where the code of the body at data[start:end] begins (after its local groups)."""
    reader = Reader(data, start, end, where)
    for _ in range(reader.u32()):
        reader.u32()
        skip_valtype(reader)
    return reader.pos


def _raw_result_vectors(wasm: bytes, section: m.Section | None) -> list[bytes]:
    """Each type's encoded result vector (b"" for struct and array types)."""
    if section is None:
        return []
    reader = section.reader(wasm)
    vectors: list[bytes] = []
    for _ in range(reader.u32()):
        form = reader.u8()
        if form == 0x4E:  # a rec group
            for _ in range(reader.u32()):
                vectors.append(_subtype_results(reader, reader.u8()))
        else:
            vectors.append(_subtype_results(reader, form))
    return vectors


def _plain_unit_type(wasm: bytes, section: m.Section | None) -> int | None:
    """The index of the first entry of the type section that is `(func)` written plainly
    (0x60 0x00 0x00): final, alone in its recursion group."""
    if section is None:
        return None
    reader = section.reader(wasm)
    index = 0
    for _ in range(reader.u32()):
        form = reader.u8()
        if form == 0x4E:  # a rec group
            for _ in range(reader.u32()):
                _subtype_results(reader, reader.u8())
                index += 1
            continue
        if form == 0x60 and reader.data[reader.pos : reader.pos + 2] == b"\x00\x00":
            return index
        _subtype_results(reader, form)
        index += 1
    return None


def _subtype_results(reader: Reader, form: int) -> bytes:
    if form in (0x50, 0x4F):
        for _ in range(reader.u32()):
            reader.u32()
        form = reader.u8()
    if form == 0x60:
        for _ in range(reader.u32()):
            skip_valtype(reader)
        start = reader.pos
        for _ in range(reader.u32()):
            skip_valtype(reader)
        return reader.data[start : reader.pos]
    if form == 0x5F:
        for _ in range(reader.u32()):
            _skip_field(reader)
    elif form == 0x5E:
        _skip_field(reader)
    else:
        raise WasmFormatError(f"unknown type form {form:#04x} in {reader.what}")
    return b""


def _skip_field(reader: Reader) -> None:
    if reader.pos < reader.end and reader.data[reader.pos] in (0x78, 0x77):
        reader.u8()
    else:
        skip_valtype(reader)
    reader.u8()
