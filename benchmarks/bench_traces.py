"""Traces at scale: `wasmcli traces list` with 100,000 traces stored against 100 stored.

    python benchmarks/bench_traces.py [--traces 100000] [--repeat 15]

Fills two homes with copies of a real hello trace (new ids, a millisecond apart; 1% of
them failed), then runs the CLI (a new process each time) on both homes side by side,
alternating, and prints the median wall time and peak RSS of each and their ratios:
`traces list` (also `--json`, `--failed`), `traces show --last`, and a traced run that
saves one trace and prunes the oldest of the full home. Peak RSS is the process's own
high-water mark (VmHWM, read when it exits), not one inherited from the process that
started it. Target (issue 10): 100,000 stored ≤ 1.5x the time and ≤ 1.2x the RSS of 100.

`make bench` (benchmarks/bench_cli.py) takes its two `traces list` rows from
`scale_rows()` here.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HELLO = str(ROOT / "sample_plugins" / "hello.wasm")
LARGE, SMALL = 100_000, 100

# Runs wasmcli in this process, then writes its peak RSS (kB) where argv[1] says.
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
    from wasmcli.config import RunConfig
    from wasmcli.runtime.executor import Executor
    from wasmcli.store.registry import Registry
    from wasmcli.store.traces import TraceStore
    from wasmcli.tracing.tracer import Tracer

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


def measure(home: Path, args: list[str], keep: int) -> tuple[float, int]:
    """Wall time (s) and peak RSS (kB) of one `wasmcli --home HOME ARGS`, keeping `keep`
    traces (a run at a full home saves one trace and prunes the oldest)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WASMCLI_")}
        env.update(
            WASMCLI_MAX_TRACES=str(keep),
            WASMCLI_MAX_TRACE_BYTES="10G",
            COLUMNS="120",
            NO_COLOR="1",
        )
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", MEASURED, peak.name, "--home", str(home), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        return time.perf_counter() - started, int(peak.read() or 0)


@dataclass
class Homes:
    """A home with LARGE traces and one with SMALL, filled once, on first use."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="wasmcli-scale-")))
    ready: bool = False

    def __post_init__(self) -> None:
        atexit.register(shutil.rmtree, self.root, True)

    def paths(self) -> dict[int, Path]:
        homes = {SMALL: self.root / "small", LARGE: self.root / "large"}
        if not self.ready:
            for count, home in homes.items():
                fill(home, count)
            self.ready = True
        return homes


@dataclass
class ScaleRow:
    """A `make bench` row: one command on the LARGE home against the SMALL one, by time
    (`rss` False) or by peak RSS (`rss` True)."""

    what: str
    args: list[str]
    rss: bool
    target: float
    homes: Homes
    samples: list[tuple[float, float]] = field(default_factory=list)  # (large, small)

    def sample(self, bench: Any, round_no: int) -> None:
        homes = self.homes.paths()
        order = (LARGE, SMALL) if round_no % 2 else (SMALL, LARGE)
        figures = {count: measure(homes[count], self.args, count) for count in order}
        pick = 1 if self.rss else 0
        self.samples.append((figures[LARGE][pick], figures[SMALL][pick]))

    def reset(self) -> None:
        self.samples.clear()

    def result(self) -> Any:
        from bench_cli import Result

        large = statistics.median(a for a, _ in self.samples)
        small = statistics.median(b for _, b in self.samples)

        def text(figure: float) -> str:
            return f"{figure / 1024:.0f} MB RSS" if self.rss else f"{figure * 1000:.0f} ms"

        return Result(
            what=self.what,
            figure=text(large),
            baseline=f"the same with {SMALL} traces stored: {text(small)}",
            ratio=statistics.median(a / b for a, b in self.samples),
            target=self.target,
        )


def scale_rows() -> list[ScaleRow]:
    homes = Homes()
    what = f"`wasmcli traces list` ({LARGE:,} traces)"
    return [
        ScaleRow(what, ["traces", "list"], rss=False, target=1.5, homes=homes),
        ScaleRow("same, peak RSS", ["traces", "list"], rss=True, target=1.2, homes=homes),
    ]


def main() -> None:
    global LARGE
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=LARGE)
    parser.add_argument("--repeat", type=int, default=15)
    options = parser.parse_args()
    LARGE = options.traces
    homes = Homes()
    started = time.perf_counter()
    paths = homes.paths()
    size = sum(p.stat().st_size for p in paths[LARGE].glob("wasmcli.db*"))
    print(
        f"Python {sys.version.split()[0]}; filled {SMALL} and {LARGE:,} traces in "
        f"{time.perf_counter() - started:.0f} s ({size / 1e6:.0f} MB on disk)\n"
    )
    print(f"  {'command':<38} {f'{SMALL} stored':>18} | {f'{LARGE:,} stored':>18} |")
    commands = [
        ("traces list", ["traces", "list"], options.repeat),
        ("traces list --json", ["traces", "list", "--json"], options.repeat),
        ("traces list --failed", ["traces", "list", "--failed"], 5),
        ("traces show --last", ["traces", "show", "--last"], 5),
        ("run hello (saves, prunes the oldest)", ["run", HELLO, "-i", "x"], 5),
    ]
    for label, args, repeat in commands:
        runs: dict[int, list[tuple[float, int]]] = {SMALL: [], LARGE: []}
        for count in (SMALL, LARGE):
            measure(paths[count], args, count)  # warm the file cache
        for round_no in range(repeat):
            for count in (SMALL, LARGE) if round_no % 2 else (LARGE, SMALL):
                runs[count].append(measure(paths[count], args, count))
        ms = {c: statistics.median(t for t, _ in runs[c]) * 1000 for c in runs}
        mb = {c: statistics.median(k for _, k in runs[c]) / 1024 for c in runs}
        print(
            f"  {label + f' (median of {repeat})':<38} {ms[SMALL]:7.1f} ms {mb[SMALL]:5.1f} MB | "
            f"{ms[LARGE]:7.1f} ms {mb[LARGE]:5.1f} MB | "
            f"time x{ms[LARGE] / ms[SMALL]:.2f}  RSS x{mb[LARGE] / mb[SMALL]:.2f}"
        )


if __name__ == "__main__":
    main()
