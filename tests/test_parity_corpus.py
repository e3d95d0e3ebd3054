"""The parity corpus: a few hundred generated plugins on both engines, one verdict each.

Each seed is an ABI-conforming plugin from `tests/wasm/progen.py` (calls and recursion,
call_indirect, br_table, memory.grow, bulk memory, host.log of random ranges, sometimes a
start function) with the input and limits of its run, drawn from the seed. The campaign
(`tests/wasm/parity.py`) runs each through `wasmcli run --json` on wasmtime and on wasmer,
in a process of its own, and requires the same exit code, error kind and output, and the
same fuel for every run that completes or runs out of fuel. `make fuzz` runs thousands
from a random seed; a failing seed shows again with
`.venv310/bin/python -m tests.wasm.parity --seed N`.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wasmcli.engines import available_engines

from .conftest import REPO
from .wasm.progen import generate_plugin

SEEDS = 250
BOTH = {"wasmtime", "wasmer"} <= set(available_engines())


@pytest.mark.skipif(not BOTH, reason="wasmer is not installed on this Python")
def test_generated_plugins_get_one_verdict_on_both_engines() -> None:
    command = ["-m", "tests.wasm.parity", "--start", "0", "--count", str(SEEDS), "--json"]
    done = subprocess.run(
        [sys.executable, *command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.stdout, done.stderr[-3000:]
    tally = json.loads(done.stdout.splitlines()[-1])
    found = "\n".join(json.dumps(d, ensure_ascii=False) for d in tally["disagreements"])
    assert not tally["disagreements"], f"{tally['summary']}\n{found}"
    assert done.returncode == 0, done.stderr[-3000:]
    assert not tally["other_words"], tally["other_words"][:3]
    # The corpus reaches every outcome it is there to compare.
    reached = " | ".join(tally["verdicts"])
    for verdict in (
        "ok",
        "plugin_error: Plugin returned",
        "trap: Plugin trapped: call depth limit N exceeded",
        "trap: host.log range",
        "trap: Plugin trapped: call_indirect to an",
        "trap: Plugin trapped: integer divide by zero",
        "trap: Plugin trapped: out-of-bounds memory access",
        "out_of_fuel: Out of fuel",
        "io: Output exceeds the limit",
        "io: Plugin output is not valid UTF-N",
        "abi: Failed to instantiate module: the start function trapped",
    ):
        assert verdict in reached, verdict


def test_the_generator_is_deterministic_and_covers_what_it_should() -> None:
    assert generate_plugin(7) == generate_plugin(7)
    plugins = [generate_plugin(seed) for seed in range(SEEDS)]
    assert len({p.wat for p in plugins}) == SEEDS
    text = " ".join(p.wat for p in plugins)
    for construct in (
        '(export "process")',
        "(call $h",
        "(call_indirect (type $t)",
        "$other",  # a function of another type in the table
        "br_table",
        "memory.grow",
        "memory.fill",
        "memory.copy",
        "memory.init",
        "data.drop",
        "(call $log (local.get $in)",
        "(call $log (local.get $env)",
        "(start $init)",
        "i32.div_",
    ):
        assert construct in text, construct
    limits = {(p.fuel, p.max_call_depth, p.memory_limit_mb, p.max_output) for p in plugins}
    assert len(limits) > 50
