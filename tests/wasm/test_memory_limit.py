"""limit_resources: one cap for all memories and tables, enforced by any engine itself."""

from __future__ import annotations

import pytest
import wasmtime

from wasmcli.wasm import (
    TABLE_ELEMENT_BYTES,
    ResourcesAboveLimit,
    WasmFormatError,
    check_declared,
    instrument_fuel,
    limit_resources,
    read_module_info,
)
from wasmcli.wasm import module as sections
from wasmcli.wasm.leb128 import encode_u

from .harness import engine, run_metered, validates, wat

PAGE = 65536
GROW = """(module (memory (export "memory") {limits})
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"""


def _maxima(wasm: bytes) -> list[tuple[int, int | None]]:
    return [(m.min_pages, m.max_pages) for m in read_module_info(wasm).memories]


def _table_maxima(wasm: bytes) -> list[tuple[int, int | None]]:
    return [(t.min_size, t.max_size) for t in read_module_info(wasm).tables]


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
def test_maximum_of_one_memory(limits: str, max_pages: int, expected: tuple[int, int]) -> None:
    limited = limit_resources(
        wat(f'(module (memory (export "memory") {limits}))'), max_pages * PAGE
    )
    assert _maxima(limited) == [expected]
    assert validates(limited)


def test_growth_beyond_the_new_maximum_fails_at_run_time() -> None:
    limited = limit_resources(wat(GROW.format(limits="1")), 3 * PAGE)
    store = wasmtime.Store(engine(False))
    exports = wasmtime.Instance(store, wasmtime.Module(store.engine, limited), []).exports(store)
    grow = exports["grow"]
    assert grow(store, 2) == 1  # 1 -> 3 pages
    assert grow(store, 1) == -1  # 4 > 3
    assert grow(store, 0) == 3
    memory = exports["memory"]
    assert isinstance(memory, wasmtime.Memory)
    assert memory.size(store) == 3


def test_memories_share_the_cap_first_come_in_index_order() -> None:
    wasm = wat("(module (memory 1) (memory 2 3) (memory 1))")
    # 10 pages: 4 start; memory 0 (no maximum) takes the 6 left; the others keep their size.
    assert _maxima(limit_resources(wasm, 10 * PAGE)) == [(1, 7), (2, 2), (1, 1)]
    declared = wat("(module (memory 1 2) (memory 2 3) (memory 1))")
    # Memory 0 wants only 1 more page, memory 1 one more, memory 2 the rest.
    assert _maxima(limit_resources(declared, 10 * PAGE)) == [(1, 2), (2, 3), (1, 5)]


def test_tables_count_at_their_element_cost_after_the_memories() -> None:
    wasm = wat("(module (memory 1 2) (table 10 funcref) (table 0 externref))")
    limit = 4 * PAGE
    limited = limit_resources(wasm, limit)
    assert _maxima(limited) == [(1, 2)]
    room = (limit - 2 * PAGE - 10 * TABLE_ELEMENT_BYTES) // TABLE_ELEMENT_BYTES
    assert _table_maxima(limited) == [(10, 10 + room), (0, 0)]
    assert validates(limited)


def test_initial_sizes_above_the_limit() -> None:
    over = [
        wat(GROW.format(limits="2048")),
        wat("(module (memory 600) (memory 600))"),
        wat("(module (memory 1) (table 9000000 funcref))"),
    ]
    for wasm in over:
        with pytest.raises(ResourcesAboveLimit) as info:
            limit_resources(wasm, 1024 * PAGE)
        with pytest.raises(ResourcesAboveLimit):
            check_declared(wasm, 1024 * PAGE)
        assert isinstance(info.value, ValueError)
        assert info.value.limit_bytes == 1024 * PAGE
        assert info.value.initial_bytes > 1024 * PAGE
        assert "\n" not in str(info.value)
    check_declared(wat("(module (memory 1000) (table 100 funcref))"), 1024 * PAGE)


def test_imported_memories_are_left_alone() -> None:
    wasm = wat("""(module (import "env" "m" (memory 50))
      (memory $own 1 200) (func (export "f")))""")
    assert _maxima(limit_resources(wasm, 10 * PAGE)) == [(50, None), (1, 10)]


def test_nothing_to_limit_returns_the_module_unchanged() -> None:
    wasm = wat('(module (func (export "f")))')
    assert limit_resources(wasm, 10 * PAGE) is wasm


def test_only_the_memory_section_changes() -> None:
    wasm = wat("""(module $m (memory 1) (data (i32.const 0) "abc")
      (global (mut i32) (i32.const 0)) (func $f (export "f")))""")
    limited = limit_resources(wasm, 4 * PAGE)
    before = [(s.id, wasm[s.start : s.end]) for s in sections.split_sections(wasm)]
    after = [(s.id, limited[s.start : s.end]) for s in sections.split_sections(limited)]
    assert [sid for sid, _ in before] == [sid for sid, _ in after]
    for (sid, old), (_, new) in zip(before, after, strict=True):
        assert (old == new) == (sid != sections.MEMORY)


@pytest.mark.parametrize("order", ["limit-then-fuel", "fuel-then-limit"])
def test_combines_with_instrument_fuel(order: str) -> None:
    wasm = wat(GROW.format(limits="1"))
    if order == "limit-then-fuel":
        both = instrument_fuel(limit_resources(wasm, 2 * PAGE))
    else:
        both = limit_resources(instrument_fuel(wasm), 2 * PAGE)
    assert validates(both)
    assert _maxima(both) == [(1, 2)]
    assert run_metered(both, "grow", (1,)).result == 1
    refused = run_metered(both, "grow", (5,))
    assert refused.result == -1
    assert refused.fuel == 3  # entry, local.get, memory.grow; no pages charged for a refusal


def test_bad_arguments_and_modules() -> None:
    with pytest.raises(ValueError):
        limit_resources(wat(GROW.format(limits="1")), -1)
    with pytest.raises(WasmFormatError):
        limit_resources(b"\x00asm\x01\x00\x00\x00\x05\x05\x01", PAGE)


def test_a_table_section_cut_short_is_a_format_error() -> None:
    # Found by `make spec` (binary.wast): a table count with no table after it.
    wasm = b"\x00asm\x01\x00\x00\x00" + b"\x04\x01\x01"
    with pytest.raises(WasmFormatError, match="truncated"):
        limit_resources(wasm, 1 << 20)


def test_a_limit_of_zero_allows_only_empty_memories() -> None:
    assert _maxima(limit_resources(wat("(module (memory 0))"), 0)) == [(0, 0)]
    with pytest.raises(ValueError, match=r"limit_bytes must not be negative \(got -1\)"):
        limit_resources(wat("(module (memory 0))"), -1)


def test_a_64_bit_memory_may_be_capped_above_4_gib() -> None:
    eight_gib = 8 << 30
    assert _maxima(limit_resources(wat("(module (memory i64 1))"), eight_gib)) == [
        (1, eight_gib // PAGE)
    ]
    # A maximum only a 64-bit memory can declare (2**40 pages) is read and lowered.
    declared = wat("(module (memory i64 1 1099511627776))")
    assert _maxima(limit_resources(declared, 4 * PAGE)) == [(1, 4)]


def test_a_table_is_capped_at_what_its_index_type_can_count() -> None:
    # Room for 2**33 elements: a 32-bit table counts at most 2**32 - 1 of them, and a
    # 64-bit table after it takes the rest.
    room = (1 << 33) * TABLE_ELEMENT_BYTES
    wasm = wat("(module (table $a 0 funcref) (table $b i64 0 funcref))")
    assert _table_maxima(limit_resources(wasm, room)) == [(0, (1 << 32) - 1), (0, (1 << 32) + 1)]


def _module_with(section_id: int, payload: bytes) -> bytes:
    return b"\x00asm\x01\x00\x00\x00" + bytes((section_id,)) + encode_u(len(payload)) + payload


# Byte 10 holds the section's count, byte 11 its first entry.
@pytest.mark.parametrize(
    ("section_id", "payload", "message"),
    [
        (sections.MEMORY, b"\x01\x10\x01", "invalid limits flags 0x10 in "),
        (
            sections.MEMORY,
            b"\x01\x08\x01\x00",
            "memory at byte 0xb uses custom page sizes, which wasmcli does not support",
        ),
        (
            sections.TABLE,
            b"\x01\x70\x08\x01\x00",
            "table at byte 0xc uses custom page sizes, which wasmcli does not support",
        ),
        (
            sections.TABLE,
            b"\x01\x40\x00\x70\x00\x01\xd2\x00\x0b",
            "table at byte 0xb has an initializer expression (function references), "
            "which wasmcli does not run",
        ),
        # A 32-bit memory's sizes are u32: 2**32 does not fit.
        (sections.MEMORY, b"\x01\x00" + encode_u(1 << 32), "integer too large in section 5"),
    ],
    ids=["flags", "memory-page-size", "table-page-size", "table-initializer", "u32"],
)
def test_limits_the_pass_cannot_read_are_refused_in_words(
    section_id: int, payload: bytes, message: str
) -> None:
    wasm = _module_with(section_id, payload)
    for check in (limit_resources, check_declared):
        with pytest.raises(WasmFormatError) as info:
            check(wasm, 1 << 30)
        assert message in str(info.value)


def test_a_module_exactly_at_the_cap_is_allowed() -> None:
    two_pages = wat("(module (memory 2) (table 8 funcref))")
    check_declared(two_pages, 2 * PAGE + 8 * TABLE_ELEMENT_BYTES)
    with pytest.raises(ResourcesAboveLimit):
        check_declared(two_pages, 2 * PAGE + 8 * TABLE_ELEMENT_BYTES - 1)
