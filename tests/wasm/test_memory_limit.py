"""limit_memory: a memory cap an engine without store limits enforces by itself."""

from __future__ import annotations

import pytest
import wasmtime

from wasmcli.wasm import (
    MemoryAboveLimit,
    WasmFormatError,
    instrument_fuel,
    limit_memory,
    limit_resources,
    read_module_info,
)
from wasmcli.wasm import module as sections

from .harness import engine, run_metered, validates, wat

GROW = """(module (memory (export "memory") {limits})
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"""


def _maxima(wasm: bytes) -> list[tuple[int, int | None]]:
    return [(m.min_pages, m.max_pages) for m in read_module_info(wasm).memories]


@pytest.mark.parametrize(
    ("limits", "max_pages", "expected"),
    [
        ("1 100", 10, (1, 10)),  # lowered
        ("1 5", 10, (1, 5)),  # already below: kept
        ("2", 10, (2, 10)),  # added
        ("10", 10, (10, 10)),  # initial exactly at the limit
        ("i64 1", 10, (1, 10)),  # memory64
        ("1 100 shared", 10, (1, 10)),
        ("1", 100_000, (1, 65536)),  # a 32-bit memory cannot declare more than 4 GiB
    ],
)
def test_maximum(limits: str, max_pages: int, expected: tuple[int, int]) -> None:
    limited = limit_memory(wat(f'(module (memory (export "memory") {limits}))'), max_pages)
    assert _maxima(limited) == [expected]
    assert validates(limited)


def test_growth_beyond_the_new_maximum_fails_at_run_time() -> None:
    limited = limit_memory(wat(GROW.format(limits="1")), 3)
    store = wasmtime.Store(engine(False))
    exports = wasmtime.Instance(store, wasmtime.Module(store.engine, limited), []).exports(store)
    grow = exports["grow"]
    assert grow(store, 2) == 1  # 1 -> 3 pages
    assert grow(store, 1) == -1  # 4 > 3
    assert grow(store, 0) == 3
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    assert memory.size(store) == 3


def test_initial_size_above_the_limit() -> None:
    with pytest.raises(MemoryAboveLimit) as info:
        limit_memory(wat(GROW.format(limits="2048")), 1024)
    assert isinstance(info.value, ValueError)
    assert (info.value.initial_pages, info.value.max_pages) == (2048, 1024)
    assert "\n" not in str(info.value)


def test_imported_memories_are_left_alone() -> None:
    wasm = wat("""(module (import "env" "m" (memory 50))
      (memory $own 1 200) (func (export "f")))""")
    assert _maxima(limit_memory(wasm, 10)) == [(50, None), (1, 10)]


def test_no_memory_returns_the_module_unchanged() -> None:
    wasm = wat('(module (func (export "f")))')
    assert limit_memory(wasm, 10) is wasm


def test_only_the_memory_section_changes() -> None:
    wasm = wat("""(module $m (memory 1) (data (i32.const 0) "abc")
      (global (mut i32) (i32.const 0)) (func $f (export "f")))""")
    limited = limit_memory(wasm, 4)
    before = [(s.id, wasm[s.start : s.end]) for s in sections.split_sections(wasm)]
    after = [(s.id, limited[s.start : s.end]) for s in sections.split_sections(limited)]
    assert [sid for sid, _ in before] == [sid for sid, _ in after]
    for (sid, old), (_, new) in zip(before, after, strict=True):
        assert (old == new) == (sid != sections.MEMORY)


@pytest.mark.parametrize("order", ["limit-then-fuel", "fuel-then-limit"])
def test_combines_with_instrument_fuel(order: str) -> None:
    wasm = wat(GROW.format(limits="1"))
    if order == "limit-then-fuel":
        both = instrument_fuel(limit_memory(wasm, 2))
    else:
        both = limit_memory(instrument_fuel(wasm), 2)
    assert validates(both)
    assert _maxima(both) == [(1, 2)]
    assert run_metered(both, "grow", (1,)).result == 1
    refused = run_metered(both, "grow", (5,))
    assert refused.result == -1
    assert refused.fuel == 3  # entry, local.get, memory.grow; no pages charged for a refusal


def test_bad_arguments_and_modules() -> None:
    with pytest.raises(ValueError):
        limit_memory(wat(GROW.format(limits="1")), -1)
    with pytest.raises(WasmFormatError):
        limit_memory(b"\x00asm\x01\x00\x00\x00\x05\x05\x01", 1)


def test_a_table_section_cut_short_is_a_format_error() -> None:
    # Found by `make spec` (binary.wast): a table count with no table after it.
    wasm = b"\x00asm\x01\x00\x00\x00" + b"\x04\x01\x01"
    with pytest.raises(WasmFormatError, match="truncated"):
        limit_resources(wasm, 1 << 20)
