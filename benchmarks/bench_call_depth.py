"""What the call-depth count costs a run: the same runs with and without it, per engine.

    python benchmarks/bench_call_depth.py [--rounds N] [--write BENCHMARKS.md]  # CPU time
    python benchmarks/bench_call_depth.py --instructions [--write BENCHMARKS.md]

Runs word_freq on 1.1 MB (the issue's yardstick) and a call-heavy plugin (a tiny
function called 1,000,000 times: the worst case, all calls and little else) through the
executor, with the default limit and with no count at all (`max_call_depth=None`, which
only tests and benchmarks can ask for).

CPU time: the two alternate (and swap order) in every round, so that a busy machine slows
both alike; modules come from the cache after the first round. Prints the median CPU time
of a whole run (this process and the wasmer child it waits for) and the ratio.

Instructions: each variant runs in a new process under valgrind's cachegrind, once with 1
run and once with 3 after a warm-up run; half the difference is what one run executes,
wasm code included, whatever the machine's load. Slow (about a minute per figure).

The fuel figures of the two variants must be equal: the count refunds itself.
`--write FILE` puts the figures between this benchmark's markers in FILE (one pair per
mode), stamped with the machine, the date and the load. `make bench` runs the CPU mode
with .venv310 where it exists (both engines).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wasmcli.config import DEFAULT_MAX_CALL_DEPTH, RunConfig  # noqa: E402
from wasmcli.engines import available_engines  # noqa: E402
from wasmcli.runtime.executor import Executor  # noqa: E402
from wasmcli.store.registry import Registry  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402

CALLS_WAT = """(module (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func $step (param i32) (result i32)
    (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)))
  (func (export "process") (param i32 i32 i32 i32) (result i32) (local $i i32) (local $s i32)
    (loop $again
      (local.set $s (call $step (local.get $s)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))
    (i32.const 0)))"""
VARIANTS = {"with the count": DEFAULT_MAX_CALL_DEPTH, "without": None}
REPORT: list[str] = []
WORDS = ("the quick brown fox jumps over the lazy dog " * 25000).encode()  # 1.1 MB


def plugins(folder: Path) -> dict[str, tuple[str, bytes]]:
    calls = folder / "calls.wat"
    calls.write_text(CALLS_WAT)
    return {
        "word_freq": (str(ROOT / "sample_plugins" / "word_freq.wasm"), WORDS),
        "calls": (str(calls), b""),
    }


def run_once(executor: Executor, engine: str, plugin: str, data: bytes, depth: int | None) -> int:
    config = RunConfig(engine=engine, seed=1, timestamp_ns=1, max_call_depth=depth)
    result = executor.execute(plugin, data, config)
    if result.error is not None or result.fuel_consumed is None:
        raise SystemExit(f"{plugin} on {engine}: {result.error}")
    return result.fuel_consumed


def cpu_ms() -> float:
    """CPU time of this process and of the children it has waited for (wasmer's)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.process_time() + children.ru_utime + children.ru_stime) * 1000


def by_cpu_time(executor: Executor, engine: str, plugin: str, data: bytes, rounds: int) -> None:
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    fuel: dict[str, int] = {}
    for round_ in range(rounds + 1):
        order = list(VARIANTS.items())
        for name, depth in order if round_ % 2 else reversed(order):
            started = cpu_ms()
            fuel[name] = run_once(executor, engine, plugin, data, depth)
            if round_:  # the first round compiles and fills the cache
                times[name].append(cpu_ms() - started)
    with_count, without = (statistics.median(times[name]) for name in VARIANTS)
    report(Path(plugin).stem, f"{with_count:8.2f} ms", f"{without:8.2f} ms", with_count / without)
    say(f"{'':14}(CPU per run, median of {rounds}; {same_fuel(fuel)})")


def by_instructions(engine: str, name: str) -> None:
    counts: dict[str, float] = {}
    for variant in VARIANTS:
        totals = [_cachegrind(engine, name, variant, runs) for runs in (1, 3)]
        counts[variant] = (totals[1] - totals[0]) / 2
    with_count, without = counts.values()
    report(name, f"{with_count / 1e6:8.2f} M", f"{without / 1e6:8.2f} M", with_count / without)


def _cachegrind(engine: str, name: str, variant: str, runs: int) -> int:
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--trace-children=yes",
        "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--child", engine, name, variant, str(runs),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    # One summary per process (wasmer's child is a forked process of its own).
    return sum(int(n.replace(",", "")) for n in re.findall(r"I\s+refs:\s+([\d,]+)", done.stderr))


def child(engine: str, name: str, variant: str, runs: int) -> None:
    """Under valgrind: a warm-up run (compiles, fills the cache), then `runs` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        plugin, data = plugins(Path(tmp))[name]
        executor = Executor(Registry(Path(tmp) / "home"), tracer=Tracer(enabled=False))
        for _ in range(runs + 1):
            run_once(executor, engine, plugin, data, VARIANTS[variant])


def say(line: str) -> None:
    print(line, flush=True)
    REPORT.append(line)


def report(name: str, with_count: str, without: str, ratio: float) -> None:
    say(f"  {name:<10} {with_count} with the count, {without} without: {ratio:.3f}x")


def same_fuel(fuel: dict[str, int]) -> str:
    return "same fuel" if len(set(fuel.values())) == 1 else f"FUEL DIFFERS: {fuel}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--write", type=Path, help="put the figures into this Markdown file")
    parser.add_argument("--child", nargs=4, metavar=("ENGINE", "PLUGIN", "VARIANT", "RUNS"))
    args = parser.parse_args()
    if args.child:
        engine, name, variant, runs = args.child
        child(engine, name, variant, int(runs))
        return
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    load_before = load_average()
    say(f"Python {sys.version.split()[0]}, engines: {', '.join(available_engines())}")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in available_engines():
            say(f"engine {engine}")
            executor = Executor(Registry(Path(tmp) / engine), tracer=Tracer(enabled=False))
            for name, (plugin, data) in plugins(Path(tmp)).items():
                if args.instructions:
                    by_instructions(engine, name)
                else:
                    rounds = args.rounds if name == "word_freq" else max(5, args.rounds // 3)
                    by_cpu_time(executor, engine, plugin, data, rounds)
    if args.write:
        mode = "instructions" if args.instructions else "cpu"
        command = " ".join(["python benchmarks/bench_call_depth.py", *sys.argv[1:]])
        write_report(args.write, mode, command, (load_before, load_average()))


def load_average() -> str:
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def write_report(path: Path, mode: str, command: str, load: tuple[str, str]) -> None:
    """Put the figures between this mode's markers in `path` (appended when none)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_cli import machine  # the same machine line as `make bench`'s table

    start, end = f"<!-- bench:call-depth-{mode} start -->", f"<!-- bench:call-depth-{mode} end -->"
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            f"Taken {stamp} on {machine()}.",
            f"Load average (1/5/15 min) {load[0]} before, {load[1]} after.",
            f"Command: `{command}`.",
            "",
            "```",
            *REPORT,
            "```",
            "",
        ]
    )
    text = path.read_text() if path.exists() else ""
    section = f"{start}\n{block}{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        path.write_text(before + section + rest.split(end, 1)[1])
    else:
        path.write_text(text.rstrip("\n") + "\n\n" + section + "\n")


if __name__ == "__main__":
    main()
