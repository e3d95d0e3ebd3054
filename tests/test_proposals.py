"""One feature set on both engines: a proposal that not both run is refused by name, with
exit 3, before either engine sees the module; `inspect` lists what a module uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import plugin_wat

# Plugins that each use one proposal wasmer 1.1 does not run (wasmtime 50 runs them all).
UNSUPPORTED = {
    "tail calls": plugin_wat("(return_call $zero)", extra="(func $zero (result i32) i32.const 0)"),
    "extended constant expressions": plugin_wat(
        "(global.get $g)", extra="(global $g i32 (i32.add (i32.const 0) (i32.const 0)))"
    ),
    "multiple memories": plugin_wat("(i32.const 0)", extra="(memory $second 1)"),
    "exception handling": plugin_wat("(i32.const 0)", extra="(tag $oops)"),
    "typed function references": plugin_wat(
        "(i32.const 0)", extra="(type $t (func)) (func (param (ref null $t)))"
    ),
    "garbage collection": plugin_wat("(i32.const 0)", extra="(type (struct))"),
}
# And plugins using what both run: the run goes ahead.
SUPPORTED = {
    "bulk memory": plugin_wat(
        "(memory.fill (i32.const 0) (i32.const 0) (i32.const 8)) (i32.const 0)"
    ),
    "sign extension": plugin_wat("(i32.extend8_s (i32.const 0))"),
    "multi-value": plugin_wat(
        "(drop (call $two)) (drop)",
        extra="(func $two (result i32 i32) (i32.const 0) (i32.const 0))",
    ).replace("(drop (call $two)) (drop)", "(call $two) (drop) (drop) (i32.const 0)"),
    "fixed-width SIMD": plugin_wat("(i32x4.extract_lane 0 (v128.const i32x4 0 0 0 0))"),
}


@pytest.mark.parametrize("proposal", UNSUPPORTED)
def test_unsupported_proposal_is_refused_by_name_on_every_engine(
    proposal: str, cli: Callable[..., object], wat_file: Callable[..., Path]
) -> None:
    path = wat_file(UNSUPPORTED[proposal], proposal.replace(" ", "_"))
    result = cli("run", str(path), "--json")
    assert result.exit_code == 3, result  # type: ignore[attr-defined]
    error = result.json()["error"]  # type: ignore[attr-defined]
    assert error["kind"] == "load"
    assert error["message"] == (
        f"Failed to compile module: it uses {proposal}, which wasmcli does not run; "
        "supported: MVP, mutable globals, sign extension, non-trapping float-to-int, "
        "multi-value, bulk memory, reference types, fixed-width SIMD"
    )


@pytest.mark.parametrize("proposal", SUPPORTED)
def test_supported_proposals_run_on_every_engine(
    proposal: str, cli: Callable[..., object], wat_file: Callable[..., Path]
) -> None:
    path = wat_file(SUPPORTED[proposal], proposal.replace(" ", "_"))
    result = cli("run", str(path))
    assert result.exit_code == 0, result  # type: ignore[attr-defined]
    inspected = cli("inspect", str(path), "--json").json()  # type: ignore[attr-defined]
    assert proposal in inspected["proposals"]


def test_inspect_lists_the_proposals_and_fails_the_check_for_unsupported_ones(
    cli: Callable[..., object], wat_file: Callable[..., Path]
) -> None:
    path = wat_file(UNSUPPORTED["tail calls"], "tail")
    result = cli("inspect", str(path), "--json")
    data = result.json()  # type: ignore[attr-defined]
    assert data["proposals"] == ["MVP", "tail calls"]
    assert not data["abi"]["ok"]
    assert {"kind": "load", "message": "uses tail calls, which wasmcli does not run"} in data[
        "abi"
    ]["problems"]
    text = cli("inspect", str(path)).stdout  # type: ignore[attr-defined]
    assert "proposals  MVP, tail calls" in text
