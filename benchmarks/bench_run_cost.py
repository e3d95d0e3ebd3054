"""What one run costs the process, in CPU time, for comparing two checkouts on a busy machine.

    python benchmarks/bench_run_cost.py [--root CHECKOUT] [--engine wasmtime]

CPU time (all threads of the process) moves much less than wall time when neighbours
load the machine, and it counts what a run's helper threads (the epoch ticker) cost.
`--root` runs another checkout's wasmcli (e.g. a `git worktree` of an older commit), so
the two can be run alternately. Also prints what the compile worker adds to the first
run of a module just above its threshold (wall time, the module compiled each time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

LOG_PLUGIN = """(module (import "host" "log" (func $log (param i32 i32)))
 (memory (export "memory") 1) (data (i32.const 0) "x")
 (func (export "process") (param i32 i32 i32 i32) (result i32) (local $i i32)
  (loop $l (call $log (i32.const 0) (i32.const 1))
   (local.set $i (i32.add (local.get $i) (i32.const 1)))
   (br_if $l (i32.lt_u (local.get $i) (i32.const 100000)))) (i32.const 0)))"""


def cpu_ms(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def module_of(code_bytes: int) -> bytes:
    """A plugin with `code_bytes` of code in 1 MiB functions (as the tests build it)."""
    from wasmcli.wasm.leb128 import encode_u

    def section(section_id: int, payload: bytes) -> bytes:
        return bytes((section_id,)) + encode_u(len(payload)) + payload

    mib = 1 << 20
    count = max(1, code_bytes // mib)
    body = b"\x00" + b"\x41\x01\x1a" * (min(code_bytes, mib) // 3) + b"\x41\x00\x0b"
    entry = encode_u(len(body)) + body
    return b"".join(
        (
            b"\x00asm\x01\x00\x00\x00",
            section(1, b"\x01\x60\x04\x7f\x7f\x7f\x7f\x01\x7f"),
            section(3, encode_u(count) + b"\x00" * count),
            section(5, b"\x01\x00\x01"),
            section(7, b"\x02\x06memory\x02\x00\x07process\x00\x00"),
            section(10, encode_u(count) + entry * count),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--engine", default="wasmtime")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    sys.path.insert(0, args.root)

    from wasmcli.config import RunConfig
    from wasmcli.runtime.executor import Executor
    from wasmcli.store.registry import Registry
    from wasmcli.tracing.tracer import Tracer
    from wasmcli.wasm.wat import wat_to_wasm

    home = Path(tempfile.mkdtemp())
    registry = Registry(home)
    config = RunConfig(engine=args.engine, seed=1, timestamp_ns=1, timeout_ms=60000)
    quiet = Executor(registry, tracer=Tracer(enabled=False))
    hello = os.path.join(args.root, "sample_plugins", "hello.wasm")
    quiet.execute(hello, "warm", config)
    print(f"{args.root}, engine {args.engine}")
    ms = cpu_ms(lambda: quiet.execute(hello, "world", config), args.repeat)
    print(f"  hello, tracing off            {ms:7.2f} ms CPU per run (median of {args.repeat})")
    logs = home / "logs.wasm"
    logs.write_bytes(wat_to_wasm(LOG_PLUGIN))
    traced = Executor(registry, tracer=Tracer(enabled=True))
    traced.execute(str(logs), "", config)
    ms = cpu_ms(lambda: traced.execute(str(logs), "", config), 5)
    print(f"  100,000 host.log calls        {ms:7.0f} ms CPU per run (median of 5, traced)")
    for size in (1000 * 1024, 1100 * 1024):  # just below and just above 1 MiB
        walls = []
        for n in range(3):
            path = home / f"big{size}-{n}.wasm"
            path.write_bytes(module_of(size) + bytes((0, 2, 1, n)))  # distinct: no cache hit
            started = time.perf_counter()
            result = quiet.execute(str(path), "", config)
            walls.append((time.perf_counter() - started) * 1000)
            assert result.success, result.error
        print(f"  first run, {size / 1024:,.0f} KiB module {statistics.median(walls):8.0f} ms wall")


if __name__ == "__main__":
    main()
