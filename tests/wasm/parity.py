"""The parity corpus: generated plugins run on both engines and compared run by run.

    python -m tests.wasm.parity [--count N] [--start SEED] [--verdicts]   # make fuzz
    python -m tests.wasm.parity --seed SEED                               # one seed in full

Each seed is a plugin (`progen.generate_plugin`: ABI-conforming, with calls, recursion,
call_indirect, br_table, memory.grow, bulk memory and host.log of random ranges) and the
input and limits of its run. It runs through `wasmcli run --json` on wasmtime and on
wasmer, which must give the same exit code, error kind and output, and the same fuel
when the call completed (whatever code it returned) or ran out of fuel. A disagreement
fails the campaign (exit 1) and prints the command that shows it again. Runs whose
verdicts agree but whose messages are worded differently are counted too.

Not compared, by design: timeouts (wall-clock time is not deterministic; each run's fuel
ends it long before its time limit), the fuel of a run stopped by a trap (unknown on both
engines), and backtraces (their offsets differ: README, Engines).

Runs on a Python where both engines import (3.10), in a process of its own: wasmer's
runs happen in children forked from it, which must not inherit a wasmer that compiled
in the parent. The test suite runs a few hundred seeds (tests/test_parity_corpus.py);
`make fuzz` runs thousands from a random start.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .progen import GeneratedPlugin, generate_plugin

ENGINES = ("wasmtime", "wasmer")
# Fuel is compared where it is defined on both: the call completed, or used all the fuel.
SAME_FUEL_KINDS = {None, "plugin_error", "out_of_fuel"}
# Far more than any generated run takes: fuel (at most 10^7 units) ends it first.
TIMEOUT_MS = "60000"
REPRODUCE = ".venv310/bin/python -m tests.wasm.parity --seed {seed}"


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    kind: str | None
    message: str | None
    output: str
    fuel: int | None

    @classmethod
    def of(cls, exit_code: int, data: dict[str, Any]) -> Outcome:
        error = data.get("error") or {}
        kind, message = error.get("kind"), error.get("message")
        return cls(exit_code, kind, message, data["output"], data["fuel_consumed"])

    def compared(self) -> tuple[object, ...]:
        fuel = self.fuel if self.kind in SAME_FUEL_KINDS else None
        return (self.exit_code, self.kind, self.output, fuel)

    def verdict(self) -> str:
        """The kind and the message with its numbers taken out: what the corpus reached
        ("trap: Plugin trapped: call depth limit N exceeded")."""
        if self.kind is None:
            return "ok"
        return f"{self.kind}: {re.sub(r'[0-9][0-9,.]*', 'N', self.message or '')[:80]}"


def differences(wasmtime: Outcome, wasmer: Outcome) -> list[str]:
    names = ("exit code", "error kind", "output", "fuel")
    return [
        name
        for name, a, b in zip(names, wasmtime.compared(), wasmer.compared(), strict=True)
        if a != b
    ]


class Runner:
    """Runs `wasmcli run` in this process, as the CLI does, in a home of its own."""

    def __init__(self, folder: Path) -> None:
        from typer.testing import CliRunner

        from wasmcli.cli.app import app

        self.folder = folder
        self.app = app
        self.cli = CliRunner()

    def run(self, plugin: GeneratedPlugin, engine: str) -> Outcome:
        path = self.folder / f"seed{plugin.seed}.wat"
        path.write_text(plugin.wat)
        args = [
            "--home", str(self.folder / "home"), "run", str(path), *plugin.run_args(),
            "--engine", engine, "--timeout-ms", TIMEOUT_MS, "--seed", "1",
            "--timestamp", "1700000000000000000", "--no-trace", "--json",
        ]  # fmt: skip
        result = self.cli.invoke(self.app, args)
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            raise SystemExit(
                f"seed {plugin.seed} on {engine}: no JSON (exit {result.exit_code}): "
                f"{result.stdout[-500:]}{result.stderr[-500:]}"
            ) from None
        return Outcome.of(result.exit_code, data)


@dataclass
class Tally:
    seeds: list[int]
    outcomes: Counter[str] = field(default_factory=Counter)  # by kind, as on wasmtime
    verdicts: Counter[str] = field(default_factory=Counter)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    other_words: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, seed: int, wasmtime: Outcome, wasmer: Outcome) -> None:
        self.outcomes[wasmtime.kind or "ok"] += 1
        self.verdicts[wasmtime.verdict()] += 1
        fields = differences(wasmtime, wasmer)
        if fields:
            self.disagreements.append(_report(seed, fields, wasmtime, wasmer))
        elif wasmtime.message != wasmer.message:
            self.other_words.append(_report(seed, ["message"], wasmtime, wasmer))

    def summary(self) -> str:
        first, last = self.seeds[0], self.seeds[-1]
        kinds = ", ".join(f"{count} {kind}" for kind, count in self.outcomes.most_common())
        return (
            f"parity: {len(self.seeds)} plugins (seeds {first}..{last}) on wasmtime and wasmer"
            f" in {self.seconds:.0f} s: {kinds}; {len(self.disagreements)} disagreements; "
            f"{len(self.other_words)} runs with the same verdict in other words"
        )


def campaign(seeds: list[int], progress: bool = False) -> Tally:
    started = time.monotonic()
    tally = Tally(seeds)
    with tempfile.TemporaryDirectory(prefix="wasmcli-parity-") as tmp:
        runner = Runner(Path(tmp))
        for done, seed in enumerate(seeds, 1):
            plugin = generate_plugin(seed)
            wasmtime, wasmer = (runner.run(plugin, engine) for engine in ENGINES)
            tally.add(seed, wasmtime, wasmer)
            if progress and done % 100 == 0:
                print(f"  {done} of {len(seeds)}", file=sys.stderr, flush=True)
    tally.seconds = time.monotonic() - started
    return tally


def _report(seed: int, fields: list[str], wasmtime: Outcome, wasmer: Outcome) -> dict[str, Any]:
    return {
        "seed": seed,
        "differ": fields,
        "wasmtime": asdict(wasmtime),
        "wasmer": asdict(wasmer),
        "reproduce": REPRODUCE.format(seed=seed),
    }


def show(seed: int) -> int:
    """One seed in full: the plugin, its run, and what each engine made of it."""
    plugin = generate_plugin(seed)
    print(plugin.wat)
    print("run options:", " ".join(plugin.run_args()))
    with tempfile.TemporaryDirectory(prefix="wasmcli-parity-") as tmp:
        runner = Runner(Path(tmp))
        wasmtime, wasmer = (runner.run(plugin, engine) for engine in ENGINES)
    for engine, outcome in zip(ENGINES, (wasmtime, wasmer), strict=True):
        print(f"{engine}: {json.dumps(asdict(outcome), ensure_ascii=False)}")
    fields = differences(wasmtime, wasmer)
    if fields:
        print(f"the engines differ in {', '.join(fields)}")
    elif wasmtime.message != wasmer.message:
        print("the same verdict on both engines, in other words")
    else:
        print("the same on both engines")
    return 1 if fields else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.wasm.parity", description=__doc__)
    parser.add_argument("--seed", type=int, help="show this one seed in full")
    parser.add_argument("--start", type=int, help="the first seed (default: a random one)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--json", action="store_true", help="print the tally as JSON")
    parser.add_argument("--verdicts", action="store_true", help="count each verdict reached")
    args = parser.parse_args(argv)
    if args.seed is not None:
        return show(args.seed)
    start = args.start if args.start is not None else random.randrange(10**6)
    if not args.json:
        print(f"seeds {start}..{start + args.count - 1}", flush=True)
    tally = campaign(list(range(start, start + args.count)), progress=not args.json)
    if args.json:
        print(json.dumps({**vars(tally), "summary": tally.summary()}, ensure_ascii=False))
        return 1 if tally.disagreements else 0
    for found in tally.disagreements:
        print(json.dumps(found, ensure_ascii=False))
    if args.verdicts:
        for name, count in tally.verdicts.most_common():
            print(f"{count:6}  {name}")
    print(tally.summary())
    return 1 if tally.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
