"""Which proposals a module uses: decided by the reader, before either engine sees it."""

from __future__ import annotations

import pytest

from wasmcli.wasm import UnsupportedProposal, check_supported, proposals_used
from wasmcli.wasm import features as f

from .harness import wat

# Each module uses one proposal beyond the MVP (some need a second to be valid).
CASES = {
    f.SIGN_EXTENSION: "(module (func (param i32) (result i32) (i32.extend8_s (local.get 0))))",
    f.SAT_CONVERSIONS: "(module (func (param f32) (result i32)"
    " (i32.trunc_sat_f32_s (local.get 0))))",
    f.MULTI_VALUE: "(module (func (result i32 i32) (i32.const 1) (i32.const 2)))",
    f.BULK_MEMORY: "(module (memory 1) (func (memory.fill (i32.const 0) (i32.const 0)"
    " (i32.const 1))))",
    f.REFERENCE_TYPES: "(module (func (param externref)))",
    f.SIMD: "(module (func (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))",
    f.MUTABLE_GLOBALS: '(module (import "a" "g" (global (mut i32))))',
    f.TAIL_CALLS: "(module (func $f (return_call $f)))",
    f.EXTENDED_CONST: "(module (global i32 (i32.add (i32.const 1) (i32.const 2))))",
    f.MULTI_MEMORY: "(module (memory 1) (memory 1))",
    f.MEMORY64: "(module (memory i64 1))",
    f.TABLE64: "(module (table i64 1 funcref))",
    f.THREADS: "(module (memory 1 1 shared))",
    f.EXCEPTIONS: "(module (tag $e) (func (throw $e)))",
    f.FUNCTION_REFERENCES: "(module (type $t (func)) (func (param (ref null $t))"
    " (call_ref $t (local.get 0))))",
    f.GC: "(module (type (struct)))",
    f.RELAXED_SIMD: "(module (func (param v128) (result v128)"
    " (i8x16.relaxed_swizzle (local.get 0) (local.get 0))))",
    f.EXTERNREF_SEGMENTS: "(module (table 2 externref) (elem (i32.const 0) externref"
    " (ref.null extern)))",
    f.GLOBAL_ELEMENT_ITEMS: '(module (import "a" "f" (global funcref)) (table 2 funcref)'
    " (elem (i32.const 0) funcref (global.get 0)))",
    f.WIDE_ARITHMETIC: "(module (func (param i64 i64 i64 i64) (result i64 i64)"
    " (i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3))))",
}
# What else a case's module needs to be valid.
ALSO = {
    f.EXTERNREF_SEGMENTS: {f.REFERENCE_TYPES},
    f.GLOBAL_ELEMENT_ITEMS: {f.REFERENCE_TYPES},
    f.RELAXED_SIMD: {f.SIMD},
    f.WIDE_ARITHMETIC: {f.MULTI_VALUE},
    f.FUNCTION_REFERENCES: set(),
    f.EXCEPTIONS: set(),
}


@pytest.mark.parametrize("proposal", CASES)
def test_each_proposal_is_recognised(proposal: str) -> None:
    used = set(proposals_used(wat(CASES[proposal])))
    assert proposal in used
    assert used - {f.MVP, proposal} <= ALSO.get(proposal, set())


def test_an_mvp_module_uses_only_the_mvp() -> None:
    assert proposals_used(wat("(module (func (result i32) (i32.const 1)))")) == (f.MVP,)


@pytest.mark.parametrize("proposal", [p for p in CASES if p not in f.SUPPORTED])
def test_unsupported_proposals_are_refused_by_name(proposal: str) -> None:
    with pytest.raises(UnsupportedProposal) as refused:
        check_supported(wat(CASES[proposal]))
    message = str(refused.value)
    assert message.startswith(f"uses {proposal}, which wasmcli does not run; supported: MVP")
    assert refused.value.proposal == proposal


@pytest.mark.parametrize("proposal", [p for p in CASES if p in f.SUPPORTED])
def test_supported_proposals_pass(proposal: str) -> None:
    assert proposal in check_supported(wat(CASES[proposal]))
