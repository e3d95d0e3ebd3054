"""read_module_info: declarations read without an engine, and one-line format errors."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from wasmcli.wasm import (
    Export,
    FuncType,
    Import,
    MemoryInfo,
    TableInfo,
    WasmFormatError,
    instrument_fuel,
    limit_resources,
    read_module_info,
)
from wasmcli.wasm import module as sections

from .harness import wat

HELLO = Path(__file__).resolve().parents[2] / "sample_plugins" / "hello.wasm"


def test_hello() -> None:
    info = read_module_info(HELLO.read_bytes())
    log_type = FuncType(("i32", "i32"), ())
    process_type = FuncType(("i32", "i32", "i32", "i32"), ("i32",))
    assert info.imports == (Import("host", "log", "func", 0, log_type),)
    assert info.exports == (
        Export("memory", "memory", 0),
        Export("process", "func", 1, process_type),
    )
    assert info.memories == (MemoryInfo(0, 1, None, export_names=("memory",)),)
    assert info.function_types == (log_type, process_type)
    assert (info.num_imported_functions, info.num_defined_functions) == (1, 1)
    assert info.num_globals == 0
    assert info.start is None
    assert info.data_count == 1
    assert info.custom_sections == ()
    assert dict(info.function_names) == {}
    assert info.export("process") == info.exports[1]
    assert info.export("nope") is None
    assert str(process_type) == "(i32, i32, i32, i32) -> (i32)"
    hash(info)  # frozen records, usable as keys


EVERY_KIND = """(module
  (type $sig (func (param i64 f32) (result f64 v128)))
  (import "env" "f" (func $f (type $sig)))
  (import "env" "t" (table 2 10 funcref))
  (import "env" "m" (memory 1 5))
  (import "env" "g" (global (mut i32)))
  (import "env" "e" (tag $e (param i32)))
  (import "env" "f2" (func $f2 (param externref funcref)))
  (memory $m64 i64 3)
  (memory $shared 1 4 shared)
  (table $t2 i64 1 externref)
  (global $g1 (mut i64) (i64.const 0))
  (global $g2 f32 (f32.const 1))
  (tag $e2 (param i64))
  (func $a (param externref funcref) (result i32 i64) (i32.const 1) (i64.const 2))
  (func $s)
  (start $s)
  (data (memory 0) (i32.const 0) "x")
  (data "passive")
  (data (memory $m64) (i64.const 8) "y")
  (export "a" (func $a))
  (export "import_reexport" (func $f))
  (export "table" (table 0))
  (export "t64" (table 1))
  (export "m" (memory 0))
  (export "m_again" (memory 0))
  (export "mem64" (memory $m64))
  (export "shm" (memory $shared))
  (export "g" (global 0))
  (export "g1" (global $g1))
  (export "tag" (tag $e2)))"""


def test_every_import_and_export_kind() -> None:
    info = read_module_info(wat(EVERY_KIND))
    sig = FuncType(("i64", "f32"), ("f64", "v128"))
    assert info.imports == (
        Import("env", "f", "func", 0, sig),
        Import("env", "t", "table", 0),
        Import("env", "m", "memory", 0),
        Import("env", "g", "global", 0),
        Import("env", "e", "tag", 0, FuncType(("i32",), ())),
        Import("env", "f2", "func", 1, FuncType(("externref", "funcref"), ())),
    )
    a_sig = FuncType(("externref", "funcref"), ("i32", "i64"))
    assert info.exports == (
        Export("a", "func", 2, a_sig),
        Export("import_reexport", "func", 0, sig),
        Export("table", "table", 0),
        Export("t64", "table", 1),
        Export("m", "memory", 0),
        Export("m_again", "memory", 0),
        Export("mem64", "memory", 1),
        Export("shm", "memory", 2),
        Export("g", "global", 0),
        Export("g1", "global", 1),
        Export("tag", "tag", 1),
    )
    assert info.memories == (
        MemoryInfo(0, 1, 5, imported=True, export_names=("m", "m_again")),
        MemoryInfo(1, 3, None, is_64=True, export_names=("mem64",)),
        MemoryInfo(2, 1, 4, shared=True, export_names=("shm",)),
    )
    assert info.tables == (
        TableInfo(0, "funcref", 2, 10, imported=True),
        TableInfo(1, "externref", 1, None, is_64=True),
    )
    assert (info.num_globals, info.num_imported_globals) == (3, 1)
    assert (info.num_imported_functions, info.num_defined_functions) == (2, 2)
    assert info.num_functions == 4
    assert info.start == 3
    assert info.data_count == 3


def test_names_and_custom_sections() -> None:
    wasm = wat("""(module $mod
      (import "host" "log" (func $log (param i32 i32)))
      (func $first) (func) (func $third (export "third")))""")
    wasm += sections.encode_section(0, b"\x09producers" + b"\x00")
    wasm += sections.encode_section(0, b"\x04meta" + b"anything")
    info = read_module_info(wasm)
    assert dict(info.function_names) == {0: "log", 1: "first", 3: "third"}
    assert info.custom_sections == ("name", "producers", "meta")


def test_damaged_name_section_is_ignored_like_engines_do() -> None:
    wasm = wat('(module (func $f (export "f")))')
    wasm += sections.encode_section(0, b"\x04name" + b"\x01\x7f\x03")  # subsection past end
    info = read_module_info(wasm)
    assert info.custom_sections[-1] == "name"


def test_gc_and_rec_group_types_keep_their_indices() -> None:
    info = read_module_info(
        wat("""(module
      (rec (type $s (struct (field i32) (field (mut i8))))
           (type $a (array (mut f64))))
      (type $f (func (param (ref $s) (ref null $a) anyref) (result i31ref)))
      (func (export "f") (type $f) (ref.i31 (i32.const 1))))""")
    )
    assert info.types[:2] == (None, None)
    assert info.exports[0].signature == FuncType(("(ref 0)", "(ref null 1)", "anyref"), ("i31ref",))


def test_large_module_function_section() -> None:
    # More than 127 types: multi-byte type indices in the function section.
    types = "".join(
        f"(type $t{i} (func (param {'i32 ' * (i % 5)}) (result i64)))" for i in range(300)
    )
    funcs = "".join(f'(func (export "f{i}") (type $t{i}) (i64.const {i}))' for i in range(300))
    info = read_module_info(wat(f"(module {types} {funcs})"))
    assert info.num_defined_functions == 300
    assert info.exports[299].signature == FuncType(("i32",) * 4, ("i64",))


# -- bad inputs ----------------------------------------------------------------------------


def _error(data: bytes) -> str:
    with pytest.raises(WasmFormatError) as info:
        read_module_info(data)
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_empty() -> None:
    assert _error(b"") == "not a WebAssembly module (empty file)"


def test_bad_magic_and_random_bytes() -> None:
    assert _error(b"\x7fELF\x02\x01\x01\x00") == "not a WebAssembly module (bad magic bytes)"
    rng = random.Random(7)
    for _ in range(20):
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        if junk.startswith(b"\x00asm"[: len(junk)]):
            continue
        assert _error(junk) == "not a WebAssembly module (bad magic bytes)"


def test_wrong_version_and_component() -> None:
    assert _error(b"\x00asm\x02\x00\x00\x00") == "unsupported WebAssembly version 2 (expected 1)"
    assert "component" in _error(b"\x00asm\x0d\x00\x01\x00")
    assert "too short" in _error(b"\x00asm\x01\x00")


def test_section_length_past_the_end() -> None:
    wasm = bytearray(HELLO.read_bytes())
    code = next(s for s in sections.split_sections(bytes(wasm)) if s.id == sections.CODE)
    assert wasm[code.start + 1] + 20 < 0x80  # stays a one-byte LEB128
    wasm[code.start + 1] += 20
    end = code.end + 20
    assert _error(bytes(wasm)) == (
        f"truncated module: section 10 (code) ends at byte {end} but the file has {len(wasm)} bytes"
    )


def test_every_truncation_is_an_error_or_a_section_boundary() -> None:
    wasm = HELLO.read_bytes()
    boundaries = {s.end for s in sections.split_sections(wasm)} | {8}
    for size in range(len(wasm)):
        if size in boundaries:
            continue
        _error(wasm[:size])


def test_truncated_in_the_middle_of_a_section() -> None:
    wasm = HELLO.read_bytes()
    imports = next(s for s in sections.split_sections(wasm) if s.id == sections.IMPORT)
    cut = (imports.payload_start + imports.end) // 2
    assert _error(wasm[:cut]).startswith("truncated module: section 2 (import) ends at byte")


def test_garbled_content_is_reported_with_its_section() -> None:
    wasm = bytearray(HELLO.read_bytes())
    imports = next(s for s in sections.split_sections(bytes(wasm)) if s.id == sections.IMPORT)
    kind = bytes(wasm).index(b"log") + 3
    wasm[kind] = 0x09
    assert _error(bytes(wasm)) == (
        f"unknown import kind 0x09 in section 2 (import) at byte {kind:#x}"
    )
    assert imports.id == 2


def test_mutated_modules_only_ever_raise_format_errors() -> None:
    """Random byte flips: the toolkit answers or raises WasmFormatError, nothing else."""
    samples = sorted(HELLO.parent.rglob("*.wasm"))
    rng = random.Random(1234)
    for _ in range(400):
        original = rng.choice(samples).read_bytes()
        data = bytearray(original)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(8, len(data))] = rng.randrange(256)
        for fn in (read_module_info, instrument_fuel, lambda b: limit_resources(b, 16 * 65536)):
            try:
                fn(bytes(data))
            except WasmFormatError as exc:
                assert "\n" not in str(exc)
            except ValueError as exc:  # ResourcesAboveLimit
                assert type(exc).__name__ == "ResourcesAboveLimit"
