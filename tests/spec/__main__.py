"""`make spec`: hold every bytecode pass to the WebAssembly core spec test suite.

    python -m tests.spec [--suite DIR] [--cache DIR] [--verbose] [NAME ...]

Converts the suite's `.wast` scripts (cached), replays every module and command on the
original modules (wasmtime, native fuel) and on each pass's output, and prints one line
per pass, then `spec: <modules> modules, <commands> commands, <r> result mismatches,
<f> fuel mismatches`. Exits 1 when a pass changed a result or the fuel of a completed
call, produced an invalid module, or crashed; exits 0 when the suite folder is absent.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

from .convert import ConverterMissing, converter_version
from .passes import PASSES
from .replay import PassTally, Tally, replay_scripts

ROOT = Path(__file__).resolve().parents[2]


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in counter.most_common())


def pass_line(tally: PassTally) -> str:
    line = (
        f"{tally.name}: {tally.modules:,} modules, {tally.commands:,} commands, "
        f"{tally.result_mismatches} result mismatches, {tally.fuel_mismatches} fuel mismatches, "
        f"{tally.trapping_calls:,} trapping calls (fuel not compared; "
        f"{tally.trapping_fuel_differs:,} differ), "
        f"{tally.invalid_outputs} invalid outputs, {tally.crashes} crashes"
    )
    if tally.orphan_calls:
        line += f", {tally.orphan_calls} calls of functions orphaned by a failed instantiation"
    refused = sum(tally.refused.values())
    if refused:
        line += f"; refused {refused:,} modules ({_counts(tally.refused)})"
    return line


def final_line(tally: Tally) -> str:
    return (
        f"spec: {tally.modules} modules, {tally.commands} commands, "
        f"{tally.result_mismatches} result mismatches, {tally.fuel_mismatches} fuel mismatches"
    )


def report(tally: Tally, seconds: float, verbose: bool, out: list[str]) -> None:
    skipped = sum(tally.skipped.values())
    out.append(
        f"reference: {tally.files} files, {tally.modules:,} modules, {tally.commands:,} commands, "
        f"{tally.bad_binaries:,} malformed or invalid binaries read; "
        f"skipped {skipped:,} commands ({_counts(tally.skipped) or 'none'})"
    )
    for name in tally.passes:
        out.append(pass_line(tally.passes[name]))
    for error in tally.reference_errors[: None if verbose else 20]:
        out.append(f"  reference: {error}")
    for pass_tally in tally.passes.values():
        for kind in ("crash", "invalid output", "result", "fuel"):
            for example in pass_tally.examples.get(kind, []):
                out.append(f"  {pass_tally.name}: {kind}: {example}")
    out.append(f"time: {seconds:.0f} s")
    out.append(final_line(tally))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make spec", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=ROOT.parent / "shared" / "spec-testsuite")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "spec")
    parser.add_argument("--verbose", action="store_true", help="every reference error")
    parser.add_argument("names", nargs="*", help="scripts to run (default: all)")
    args = parser.parse_args(argv)

    if not args.suite.is_dir():
        print(f"spec: the suite folder {args.suite} is absent; nothing to run")
        return 0
    wasts = sorted(args.suite.glob("*.wast"))
    if args.names:
        wanted = {n.removesuffix(".wast") for n in args.names}
        wasts = [w for w in wasts if w.stem in wanted]
    try:
        version = converter_version()
    except ConverterMissing as exc:
        print(f"spec: {exc}", file=sys.stderr)
        return 2
    print(f"spec: {len(wasts)} scripts from {args.suite}, converted by {version}", flush=True)

    started = time.monotonic()
    tally = replay_scripts(wasts, args.cache, PASSES)
    lines: list[str] = []
    report(tally, time.monotonic() - started, args.verbose, lines)
    print("\n".join(lines))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
