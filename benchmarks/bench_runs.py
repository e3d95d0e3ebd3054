"""Benchmark whole runs: per engine, the cost of a run and of tracing it, and CLI start-up.

    python benchmarks/bench_runs.py [--repeat N]

Prints medians over N runs (default 30) in a fresh temporary home. Figures go to
BENCHMARKS.md with the command and the machine they came from.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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
from wasmcli.store.traces import TraceStore  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402

SAMPLES = ROOT / "sample_plugins"


def median_ms(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_engine(engine: str, home: Path, repeat: int) -> None:
    registry = Registry(home)
    config = RunConfig(engine=engine, seed=1, timestamp_ns=1)
    hello = str(SAMPLES / "hello.wasm")
    words = ("the quick brown fox jumps over the lazy dog " * 25000).encode()  # 1.1 MB
    tracers = {
        "tracing off": Tracer(enabled=False),
        "tracing in memory": Tracer(enabled=True, max_traces=100),
        "tracing to SQLite": Tracer(enabled=True, max_traces=100, store=TraceStore(registry.conn)),
    }
    print(f"\nengine {engine}")
    for label, tracer in tracers.items():
        executor = Executor(registry, tracer=tracer)
        executor.execute(hello, "warm", config)  # compile once; later runs load the cache
        ms = median_ms(lambda run=executor: run.execute(hello, "world", config), repeat)
        print(f"  hello, {label:<18} {ms:8.2f} ms per run (median of {repeat})")
    executor = Executor(registry, tracer=tracers["tracing off"])
    result = executor.execute(str(SAMPLES / "word_freq.wasm"), words, config)
    ms = median_ms(lambda: executor.execute(str(SAMPLES / "word_freq.wasm"), words, config), 5)
    print(
        f"  word_freq on 1.1 MB    {ms:8.2f} ms per run (median of 5), "
        f"fuel {result.fuel_consumed:,}, {result.error or 'ok'}"
    )


FLOOD_WAT = """(module (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1) (data (i32.const 0) "x")
  (func (export "process") (param i32 i32 i32 i32) (result i32) (local $i i32)
    (loop $again (call $log (i32.const 0) (i32.const 1))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 100000))))
    (i32.const 0)))"""


def bench_host_calls(engine: str, home: Path) -> None:
    flood = home / "flood.wat"
    flood.write_text(FLOOD_WAT)
    executor = Executor(Registry(home), tracer=Tracer(enabled=True, max_traces=10))
    config = RunConfig(engine=engine, timeout_ms=120_000)
    executor.execute(str(flood), "", config)
    ms = median_ms(lambda: executor.execute(str(flood), "", config), 3)
    print(f"  100,000 host.log calls {ms:8.0f} ms per run ({ms / 100:.1f} us per call, traced)")


def bench_startup(home: Path, repeat: int) -> None:
    exe = Path(sys.executable).with_name("wasmcli")
    if not exe.exists():
        return
    env = {**os.environ, "WASMCLI_HOME": str(home)}
    print("\nCLI start-up (a new process each time)")
    for args in (
        ["--version"],
        ["list"],
        ["traces", "list"],
        ["run", str(SAMPLES / "hello.wasm"), "-i", "x"],
    ):

        def once(args: list[str] = args) -> None:
            subprocess.run([str(exe), *args], env=env, capture_output=True, check=False)

        once()
        print(f"  wasmcli {' '.join(args[:2]):<28} {median_ms(once, max(3, repeat // 3)):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, engines: {', '.join(available_engines())}")
    with tempfile.TemporaryDirectory() as tmp:
        for engine in available_engines():
            bench_engine(engine, Path(tmp) / engine, args.repeat)
            bench_host_calls(engine, Path(tmp) / engine)
        bench_startup(Path(tmp) / "cli", args.repeat)


if __name__ == "__main__":
    main()
