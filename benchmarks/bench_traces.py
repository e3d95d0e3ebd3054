"""Benchmark `wasmcli traces list` with 100 and with 100,000 traces stored.

    python benchmarks/bench_traces.py [--traces 100000] [--repeat 15]

Fills two homes with copies of a real hello trace (new ids, a millisecond apart; 1% of
them failed), then runs the installed CLI (`python -m wasmcli`, a new process each
time) side by side on both homes, alternating, and prints the median wall time and the
median peak RSS (VmHWM, read by the process itself when it exits) of each, and their
ratios. Also times `traces list --failed` (a filter) and one traced run, which applies
retention to the full home. Target (issue 10): 100,000 stored ≤ 1.5x the time and
≤ 1.2x the RSS of 100 stored. Figures go to BENCHMARKS.md with the command and machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wasmcli.config import RunConfig  # noqa: E402
from wasmcli.runtime.executor import Executor  # noqa: E402
from wasmcli.store.registry import Registry  # noqa: E402
from wasmcli.store.traces import TraceStore  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402

HELLO = str(ROOT / "sample_plugins" / "hello.wasm")

# Runs wasmcli in this process, then writes its peak RSS (kB) where argv[1] says: the
# process's own high-water mark, not one inherited from the process that started it.
MEASURED = """
import atexit, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as f:
        f.write(kb)
atexit.register(peak)
from wasmcli.cli.app import main
sys.argv[0] = "wasmcli"
main()
"""


def fill(home: Path, count: int) -> None:
    """`count` traces: a real hello trace copied, each its own save (as runs do)."""
    registry = Registry(home)
    tracer = Tracer(enabled=True, max_traces=1)
    trace = Executor(registry, tracer=tracer).execute(HELLO, "world", RunConfig()).trace
    assert trace is not None
    store = TraceStore(registry.conn)
    start = trace.started_at - timedelta(milliseconds=count)
    for n in range(count):
        copy = replace(
            trace,
            trace_id=str(uuid.uuid4()),
            started_at=start + timedelta(milliseconds=n),
            success=n % 100 != 0,
            error_kind=None if n % 100 else "trap",
        )
        store.save(copy, max_traces=count, max_bytes=None)
    registry.close()


def stored(home: Path) -> int:
    return TraceStore(Registry(home).conn).totals()[0]


def measure(home: Path, args: list[str], keep: int) -> tuple[float, int]:
    """Wall time (ms) and peak RSS (kB) of one `wasmcli --home HOME ARGS`, keeping `keep`
    traces (a run at a full home saves one trace and prunes the oldest)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        env = {
            **os.environ,
            "WASMCLI_MAX_TRACES": str(keep),
            "WASMCLI_MAX_TRACE_BYTES": "10G",
            "COLUMNS": "120",
        }
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", MEASURED, peak.name, "--home", str(home), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, int(peak.read() or 0)


def compare(label: str, small: Path, large: Path, args: list[str], repeat: int) -> None:
    figures: dict[Path, list[tuple[float, int]]] = {small: [], large: []}
    keep = {home: stored(home) for home in (small, large)}
    for home in (small, large):
        measure(home, args, keep[home])  # warm the file cache
    for _ in range(repeat):
        for home in (small, large):
            figures[home].append(measure(home, args, keep[home]))
    (small_ms, small_kb), (large_ms, large_kb) = (
        (statistics.median(t for t, _ in figures[h]), statistics.median(k for _, k in figures[h]))
        for h in (small, large)
    )
    print(
        f"  {label:<34} {small_ms:7.1f} ms {small_kb / 1024:6.1f} MB | "
        f"{large_ms:7.1f} ms {large_kb / 1024:6.1f} MB | "
        f"time x{large_ms / small_ms:.2f}  RSS x{large_kb / small_kb:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        started = time.perf_counter()
        fill(small, 100)
        fill(large, options.traces)
        size = (large / "wasmcli.db").stat().st_size + sum(
            p.stat().st_size for p in large.glob("wasmcli.db-*")
        )
        print(
            f"Python {sys.version.split()[0]}; filled 100 and {options.traces:,} traces "
            f"in {time.perf_counter() - started:.0f} s ({size / 1e6:.0f} MB on disk)\n"
        )
        print(f"  {'command (median of ' + str(options.repeat) + ')':<34} {'100 stored':>18} | "
              f"{f'{options.traces:,} stored':>18} |")  # fmt: skip
        compare("traces list", small, large, ["traces", "list"], options.repeat)
        compare("traces list --json", small, large, ["traces", "list", "--json"], options.repeat)
        compare("traces list --failed", small, large, ["traces", "list", "--failed"], 5)
        compare("traces show --last", small, large, ["traces", "show", "--last"], 5)
        compare("run hello (saves, prunes the oldest)", small, large, ["run", HELLO, "-i", "x"], 5)


if __name__ == "__main__":
    main()
