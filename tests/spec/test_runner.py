"""The spec runner itself: it must see a pass that breaks something, and say so."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from wasmcli.wasm import instrument_fuel

from . import __main__ as spec_main
from .passes import PASSES, Pass
from .replay import Tally, replay_scripts
from .values import matches

SCRIPT = """
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "nan") (result f32) (f32.const nan:0x400001))
  (func (export "div") (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "ref") (param (ref null any)) (result i32) (i32.const 0))
)
(assert_return (invoke "add" (i32.const 2) (i32.const 3)) (i32.const 5))
(assert_return (invoke "nan") (f32.const nan:arithmetic))
(assert_trap (invoke "div" (i32.const 0)) "integer divide by zero")
(assert_return (invoke "ref" (ref.null any)) (i32.const 0))
(assert_malformed (module binary "\\00asm\\01\\00\\00") "unexpected end")
"""
ADD = bytes.fromhex("200020016a")  # local.get 0; local.get 1; i32.add
NAN_BITS = struct.pack("<I", 0x7FC00001)  # f32.const nan:0x400001 as written in the module


def _run(tmp_path: Path, *passes: Pass) -> Tally:
    wast = tmp_path / "probe.wast"
    wast.write_text(SCRIPT)
    return replay_scripts([wast], tmp_path / "cache", passes)


def test_faithful_passes_are_clean(tmp_path: Path) -> None:
    tally = _run(tmp_path, *PASSES)
    assert not tally.failed and not tally.reference_errors
    assert (tally.modules, tally.commands, tally.bad_binaries) == (1, 3, 1)
    # The call with a GC-typed parameter cannot go through wasmtime-py: skipped, counted.
    assert tally.skipped == {"GC-typed signature": 1}
    fuel = tally.passes["instrument_fuel"]
    assert (fuel.commands, fuel.trapping_calls) == (4, 1)  # instantiation + 3 calls


def test_a_changed_result_is_a_result_mismatch(tmp_path: Path) -> None:
    subtract = Pass("subtract", lambda w: w.replace(ADD, ADD[:-1] + b"\x6b"), metered=False)
    tally = _run(tmp_path, subtract)
    assert tally.passes["subtract"].result_mismatches == 1
    assert tally.failed


def test_floats_are_compared_bit_for_bit(tmp_path: Path) -> None:
    # Still an arithmetic NaN, so the script's own expectation holds: only exact bits
    # tell the two apart.
    other_nan = Pass(
        "nan", lambda w: w.replace(NAN_BITS, struct.pack("<I", 0x7FC00000)), metered=False
    )
    assert _run(tmp_path, other_nan).passes["nan"].result_mismatches == 1


def test_a_changed_charge_is_a_fuel_mismatch(tmp_path: Path) -> None:
    # The instrumented `add` charges its body's 3 after the entry check (local.get F;
    # i64.const 3; i64.sub, with F its third local): make it 4. Same result, one more unit.
    costly = Pass(
        "costly",
        lambda w: instrument_fuel(w).replace(b"\x20\x02\x42\x03\x7d", b"\x20\x02\x42\x04\x7d", 1),
        metered=True,
    )
    tally = _run(tmp_path, costly)
    assert (tally.passes["costly"].result_mismatches, tally.passes["costly"].fuel_mismatches) == (
        0,
        1,
    )


def test_crashes_and_invalid_outputs_are_failures(tmp_path: Path) -> None:
    def crash(wasm: bytes) -> bytes:
        raise KeyError("bug")

    tally = _run(
        tmp_path,
        Pass("crash", crash, metered=False),
        Pass("truncate", lambda w: w[:-3], metered=False),
    )
    assert tally.passes["crash"].crashes == 2  # the module, and the malformed binary
    assert tally.passes["truncate"].invalid_outputs == 1
    assert tally.failed


def test_nan_classes_as_the_spec_defines_them() -> None:
    canonical = {"type": "f32", "value": "nan:canonical"}
    arithmetic = {"type": "f64", "value": "nan:arithmetic"}
    assert matches(canonical, ("f32", 0x7FC00000)) and matches(canonical, ("f32", 0xFFC00000))
    assert not matches(canonical, ("f32", 0x7FC00001))
    assert matches(arithmetic, ("f64", 0x7FF8000000000001))
    assert not matches(arithmetic, ("f64", 0x7FF4000000000000))  # signalling
    assert matches({"type": "f32", "value": "2143289345"}, ("f32", 0x7FC00001))


def test_make_spec_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "probe.wast").write_text(SCRIPT)
    code = spec_main.main(["--suite", str(suite), "--cache", str(tmp_path / "cache")])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[-1] == "spec: 1 modules, 3 commands, 0 result mismatches, 0 fuel mismatches"
    assert any(line.startswith("instrument_fuel: 1 modules, 4 commands") for line in lines)
    assert any("skipped 1 commands (GC-typed signature 1)" in line for line in lines)


def test_make_spec_without_the_suite_says_so_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert spec_main.main(["--suite", str(tmp_path / "absent")]) == 0
    assert "is absent" in capsys.readouterr().out
