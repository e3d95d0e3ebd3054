"""What one batch run costs in process, against the engine's own floor.

    python benchmarks/bench_run_floor.py [--runs N] [--rounds R]

Three loops over the same N inputs to hello.wasm, in this process, CPU time per run
(median of R interleaved rounds):
- the floor: wasmtime-py alone, as a host that keeps nothing does it: a new Store with
  fuel and an epoch deadline, instantiate through a prepared Linker, grow a page, write
  the input, call `process`, read the log line. No limits beyond those, no trace.
- `run_batch` with tracing off: wasmcli's whole run (limits, ABI steps, result).
- `run_batch` with traces stored in SQLite: the same, plus recording and saving them.
The difference between the first two is what wasmcli adds to a run; the floor bounds
the runs per second one process can reach on this engine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import wasmtime  # noqa: E402
from minimal_host import host_linker  # noqa: E402

from wasmcli.config import RunConfig  # noqa: E402
from wasmcli.runtime.batch import run_batch  # noqa: E402
from wasmcli.runtime.batch_input import BatchInput  # noqa: E402
from wasmcli.store.registry import Registry  # noqa: E402
from wasmcli.store.traces import TraceStore  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402

HELLO = ROOT / "sample_plugins" / "hello.wasm"
PAGE = 65536


def floor_loop(inputs: list[bytes]) -> float:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    engine = wasmtime.Engine(config)
    module = wasmtime.Module.from_file(engine, str(HELLO))
    lines: list[bytes] = []
    linker = host_linker(engine, lines)
    started = time.process_time()
    for data in inputs:
        store = wasmtime.Store(engine)
        store.set_fuel(10_000_000)
        store.set_epoch_deadline(1_000)
        instance = linker.instantiate(store, module)
        exports = instance.exports(store)
        memory = exports["memory"]
        process = exports["process"]
        assert isinstance(memory, wasmtime.Memory) and isinstance(process, wasmtime.Func)
        at = memory.grow(store, 1) * PAGE
        memory.write(store, data, at)
        process(store, at, len(data), 0, 0)
        store.get_fuel()
        lines.clear()
    return time.process_time() - started


def batch_loop(inputs: list[bytes], home: Path, traced: bool) -> float:
    registry = Registry(home)
    store = TraceStore(registry.conn) if traced else None
    tracer = Tracer(enabled=traced, max_traces=10**9, store=store)
    items = [BatchInput(index=i, line=i + 1, data=data) for i, data in enumerate(inputs)]
    config = RunConfig(engine="wasmtime", seed=1, timestamp_ns=1)
    run_batch(str(HELLO), items[:1], config, on_result=lambda r: None, registry=registry)
    started = time.process_time()
    run_batch(str(HELLO), items, config, on_result=lambda r: None, registry=registry, tracer=tracer)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    inputs = [f"world{i}".encode() for i in range(args.runs)]
    figures: dict[str, list[float]] = {"floor": [], "off": [], "sqlite": []}
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            figures["floor"].append(floor_loop(inputs))
            figures["off"].append(batch_loop(inputs, Path(folder) / f"off{round_}", False))
            figures["sqlite"].append(batch_loop(inputs, Path(folder) / f"on{round_}", True))
    per_run = {key: statistics.median(values) / args.runs * 1e6 for key, values in figures.items()}
    print(f"{args.runs:,} runs of hello.wasm in process, CPU per run, median of {args.rounds}:")
    for key, label in (
        ("floor", "wasmtime-py alone (store, instantiate, write, call)"),
        ("off", "run_batch, tracing off"),
        ("sqlite", "run_batch, traces stored in SQLite"),
    ):
        rate = 1e6 / per_run[key]
        print(f"  {label:<52} {per_run[key]:7.0f} µs  ({rate:,.0f} runs per CPU second)")


if __name__ == "__main__":
    main()
