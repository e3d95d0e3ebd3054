"""Benchmark `run --profile`: what profiling costs, and how big a profile gets.

    python benchmarks/bench_profile.py [--repeat N]

Per engine on this Python: word_freq on 1.1 MB and a loop-heavy plugin with few calls,
profiled against unprofiled (in-process runs, traces in memory, median of N), and the
size in the trace of the profile of a plugin that makes 100,000 distinct stacks (more
than the stack table keeps). Figures go to BENCHMARKS.md with the command and machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wasmcli.config import RunConfig  # noqa: E402
from wasmcli.engines import available_engines  # noqa: E402
from wasmcli.runtime.executor import Executor  # noqa: E402
from wasmcli.store.registry import Registry  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402
from wasmcli.wasm.wat import wat_to_wasm  # noqa: E402

SAMPLES = ROOT / "sample_plugins"
HEAD = '(module (import "host" "log" (func $log (param i32 i32))) (memory (export "memory") 1)'
# One call, a loop of 2,000,000 iterations.
LOOP = (
    HEAD
    + """
  (func $work (local i32) (loop $l (local.set 0 (i32.add (local.get 0) (i32.const 1)))
    (br_if $l (i32.lt_u (local.get 0) (i32.const 2000000)))))
  (func (export "process") (param i32 i32 i32 i32) (result i32) (call $work) (i32.const 0)))"""
)
# $g(l) calls each of $f0..$f9 (through a table), which call $g(l - 1): 10^5 distinct
# stacks at the deepest level, over 100,000 in all.
FS = "\n".join(
    f"(func $f{k} (type $t) (if (local.get 0) "
    "(then (call $g (i32.sub (local.get 0) (i32.const 1))))))"
    for k in range(10)
)
STACKS = (
    HEAD
    + f"""
  (type $t (func (param i32)))
  (table 10 funcref) (elem (i32.const 0) $f0 $f1 $f2 $f3 $f4 $f5 $f6 $f7 $f8 $f9)
  (func $g (param $l i32) (local $k i32)
    (loop $each (call_indirect (type $t) (local.get $l) (local.get $k))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $k) (i32.const 10)))))
  {FS}
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (call $g (i32.const 4)) (i32.const 0)))"""
)


def bench(engine: str, home: Path, repeat: int) -> None:
    executor = Executor(Registry(home), tracer=Tracer(enabled=True, max_traces=10))
    plain = RunConfig(engine=engine, seed=1, timestamp_ns=1, timeout_ms=60_000)
    profiled = RunConfig(engine=engine, seed=1, timestamp_ns=1, timeout_ms=60_000, profile=True)
    loop = home / "loop.wasm"
    loop.write_bytes(wat_to_wasm(LOOP))
    words = ("the quick brown fox jumps over the lazy dog " * 25000).encode()  # 1.1 MB
    print(f"\nengine {engine}")
    for label, plugin, data in (
        ("word_freq on 1.1 MB", str(SAMPLES / "word_freq.wasm"), words),
        ("loop, 1 call, 2M iterations", str(loop), b""),
    ):
        # Interleaved, in CPU time: the machine is shared, and wall time swings with it
        # (wasmer runs in a child process, whose CPU this process does not see: wall time).
        clock = time.perf_counter if engine == "wasmer" else time.process_time
        runs: dict[str, list[float]] = {"plain": [], "profiled": []}
        for config in (plain, profiled):
            executor.execute(plugin, data, config)  # compiled once, then from the cache
        for _ in range(repeat):
            for name, config in (("plain", plain), ("profiled", profiled)):
                started = clock()
                executor.execute(plugin, data, config)
                runs[name].append((clock() - started) * 1000)
        times = {name: statistics.median(values) for name, values in runs.items()}
        ratio = times["profiled"] / times["plain"]
        kind = "wall" if engine == "wasmer" else "CPU"
        print(
            f"  {label:<28} {times['plain']:8.2f} ms plain, {times['profiled']:8.2f} ms "
            f"profiled ({kind}): {ratio:.2f}x (median of {repeat}, "
            "interleaved)"
        )
    stacks = home / "stacks.wasm"
    stacks.write_bytes(wat_to_wasm(STACKS))
    started = time.perf_counter()
    result = executor.execute(str(stacks), b"", profiled)
    seconds = time.perf_counter() - started
    trace = result.trace
    assert trace is not None and trace.profile is not None, result.error
    size = len(json.dumps(trace.profile, separators=(",", ":")))
    profile = trace.profile
    print(
        f"  100,000 distinct stacks: {len(profile['nodes']):,} kept, "
        f"{profile['stacks_truncated']:,} calls past the bound; profile {size / 1e6:.2f} MB "
        f"in the trace; run {seconds:.1f} s"
    )


def journal_cost(repeat: int, events: int = 200_000) -> None:
    """What a profile event costs the profiler in CPU time, alone and with the journal a
    wasmer child keeps for wasmcli (engines/profile_journal.py), interleaved."""
    from wasmcli.engines.profile_journal import JournaledProfiler, ProfileJournal
    from wasmcli.engines.profiler import FuelProfiler

    counted = 0

    def read_fuel() -> int:
        nonlocal counted
        counted += 10
        return counted

    journal = ProfileJournal()
    runs: dict[str, list[float]] = {"alone": [], "journaled": []}
    for _ in range(repeat):
        for name in runs:
            profiler = (
                FuelProfiler(read_fuel, 15)
                if name == "alone"
                else JournaledProfiler(read_fuel, 15, journal)
            )
            journal.reset()
            started = time.process_time()
            for _ in range(events // 2):
                profiler.enter(1)
                profiler.exit()
            runs[name].append((time.process_time() - started) / events * 1e9)
    journal.close()
    alone, journaled = (statistics.median(runs[name]) for name in runs)
    print(
        f"\nprofiler, per event (CPU): {alone:.0f} ns alone, {journaled:.0f} ns journaled "
        f"({journaled / alone:.2f}x; median of {repeat}, interleaved, {events:,} events, "
        "a snapshot when the ring fills)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for engine in available_engines():
            bench(engine, Path(tmp), args.repeat)
    journal_cost(args.repeat)


if __name__ == "__main__":
    main()
