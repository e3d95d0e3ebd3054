"""The fast slice of the spec suite: every bytecode pass, on 35 representative scripts.

Each script's modules and commands are replayed on the original (wasmtime, native fuel)
and on every pass's output (see `tests/spec/__main__.py` for the whole suite). A pass
that changes a result, a trap, the fuel of a completed call or of an instantiation, or
that emits an invalid module or crashes, fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .passes import PASSES
from .replay import Tally, replay_scripts

SUITE = Path(__file__).resolve().parent / "suite"
CACHE = Path(__file__).resolve().parents[2] / "build" / "spec"
SLICE = sorted(SUITE.glob("*.wast"))


def test_the_slice_is_vendored() -> None:
    assert len(SLICE) == 35
    assert (SUITE / "LICENSE").read_text().lstrip().startswith("Apache License")


def _failures(tally: Tally) -> list[str]:
    found = [f"reference: {error}" for error in tally.reference_errors]
    for pass_tally in tally.passes.values():
        for kind, examples in pass_tally.examples.items():
            found += [f"{pass_tally.name}: {kind}: {example}" for example in examples]
    return found


@pytest.mark.parametrize("wast", SLICE, ids=[w.stem for w in SLICE])
def test_every_pass_keeps_results_traps_and_fuel(wast: Path) -> None:
    tally = replay_scripts([wast], CACHE, PASSES)
    assert tally.commands > 0 and tally.modules > 0  # the script really ran
    assert not tally.failed, "\n".join(_failures(tally))
    for pass_ in PASSES:
        pass_tally = tally.passes[pass_.name]
        assert (pass_tally.result_mismatches, pass_tally.fuel_mismatches) == (0, 0)
        # Every pass ran what the reference ran, less what it refused.
        assert pass_tally.commands >= tally.commands - 1 or pass_tally.refused, pass_.name
