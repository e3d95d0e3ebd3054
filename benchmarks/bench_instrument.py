"""Benchmark read_module_info and instrument_fuel.

    python benchmarks/bench_instrument.py [module.wasm ...]
    python benchmarks/bench_instrument.py --against OTHER_CHECKOUT [--rounds N]

Times the largest .wasm under sample_plugins/ (or the files given), and a generated module
of about 5,000 functions and 1 MB of code, shaped like compiler output (locals, memory
traffic, small blocks and loops, calls). Times are CPU time of this process (best of 5),
so that a busy neighbour on a shared machine moves them less than wall-clock time.

`--against` compares with another checkout (say, main in a scratch folder before a
refactor): it alternates runs of both, N rounds, and prints for each figure the median of
the per-round ratios this/other, a paired comparison that survives a machine whose load
changes during the measurement.
"""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wasmcli.wasm import instrument_fuel, read_module_info  # noqa: E402
from wasmcli.wasm.leb128 import encode_s, encode_u  # noqa: E402
from wasmcli.wasm.module import CODE, split_sections  # noqa: E402


def _section(section_id: int, payload: bytes) -> bytes:
    return bytes((section_id,)) + encode_u(len(payload)) + payload


def _vec(items: list[bytes]) -> bytes:
    return encode_u(len(items)) + b"".join(items)


def _function_body(rng: random.Random, num_functions: int) -> bytes:
    """About 200 bytes: straight-line code, a block with br_if, a loop, a call."""
    code = bytearray()

    def local_get() -> None:
        code.extend((0x20, rng.randrange(6)))

    for _ in range(rng.randrange(10, 18)):
        choice = rng.randrange(5)
        if choice == 0:  # local = local + const
            local_get()
            code.append(0x41)
            code.extend(encode_s(rng.randrange(-1000, 100000)))
            code.append(0x6A)
            code.extend((0x21, rng.randrange(2, 6)))
        elif choice == 1:  # i32.store offset=N (local) (local * local)
            local_get()
            local_get()
            local_get()
            code.append(0x6C)
            code.extend((0x36, 0x02))
            code.extend(encode_u(rng.randrange(0, 4096)))
        elif choice == 2:  # block: load, compare, br_if out, more arithmetic
            code.extend((0x02, 0x40))
            local_get()
            code.extend((0x28, 0x02))
            code.extend(encode_u(rng.randrange(0, 4096)))
            code.append(0x45)  # i32.eqz
            code.extend((0x0D, 0x00))
            local_get()
            local_get()
            code.append(0x73)  # i32.xor
            code.extend((0x21, rng.randrange(2, 6)))
            code.append(0x0B)
        elif choice == 3:  # loop: counter in local 5
            code.extend((0x41, 0x08, 0x21, 0x05, 0x03, 0x40))
            local_get()
            code.extend((0x41, 0x03, 0x74, 0x21, 0x04))  # i32.shl
            code.extend((0x20, 0x05, 0x41, 0x01, 0x6B, 0x22, 0x05, 0x0D, 0x00, 0x0B))
        else:  # call a function of the same type, drop its result
            local_get()
            local_get()
            code.append(0x10)
            code.extend(encode_u(rng.randrange(num_functions)))
            code.append(0x1A)
    local_get()
    code.append(0x0B)
    locals_decl = b"\x01\x04\x7f"  # 4 more i32 locals (2 params + 4 = locals 0..5)
    return locals_decl + bytes(code)


def generated_module(num_functions: int = 5000, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    functype = b"\x60\x02\x7f\x7f\x01\x7f"  # (i32, i32) -> i32
    bodies = [_function_body(rng, num_functions) for _ in range(num_functions)]
    code = _vec([encode_u(len(b)) + b for b in bodies])
    exports = _vec([encode_u(len(b"run")) + b"run\x00\x00", b"\x06memory\x02\x00"])
    return b"".join(
        [
            b"\x00asm\x01\x00\x00\x00",
            _section(1, _vec([functype])),
            _section(3, _vec([b"\x00"] * num_functions)),
            _section(5, _vec([b"\x00\x01"])),
            _section(7, exports),
            _section(10, code),
        ]
    )


def _time(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def bench(name: str, wasm: bytes, repeat: int = 5) -> None:
    info = read_module_info(wasm)
    instrumented = instrument_fuel(wasm)
    code = sum(s.end - s.payload_start for s in split_sections(wasm) if s.id == CODE)
    t_info = _time(lambda: read_module_info(wasm), repeat)
    t_fuel = _time(lambda: instrument_fuel(wasm), repeat)
    mb = len(wasm) / 1e6
    print(
        f"{name}: {len(wasm):,} bytes ({code:,} of code), {info.num_defined_functions:,} functions"
    )
    print(f"  read_module_info  {t_info * 1e3:8.2f} ms   {mb / t_info:8.1f} MB/s")
    print(
        f"  instrument_fuel   {t_fuel * 1e3:8.2f} ms   {mb / t_fuel:8.1f} MB/s of module, "
        f"{code / 1e6 / t_fuel:.1f} MB/s of code "
        f"(output {len(instrumented) / len(wasm):.2f}x the input)"
    )


_FIGURE = re.compile(r"\s+(read_module_info|instrument_fuel)\s+([\d.]+) ms")


def _figures(checkout: Path) -> dict[str, float]:
    """One run of a checkout's own copy of this script: {"module: step": ms}."""
    script = checkout / "benchmarks" / "bench_instrument.py"
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    figures: dict[str, float] = {}
    module = ""
    for line in out.splitlines():
        found = _FIGURE.match(line)
        if found:
            figures[f"{module}: {found.group(1)}"] = float(found.group(2))
        elif not line.startswith(" "):
            module = line.split(":")[0]
    return figures


def compare(other: Path, rounds: int) -> None:
    ours: list[dict[str, float]] = []
    theirs: list[dict[str, float]] = []
    for round_ in range(rounds):
        order = [(ours, ROOT), (theirs, other)]
        for results, checkout in order if round_ % 2 == 0 else order[::-1]:
            results.append(_figures(checkout))
    print(f"this checkout against {other}, {rounds} paired rounds (median ratio, CPU time)")
    for key in ours[0]:
        ratio = statistics.median(a[key] / b[key] for a, b in zip(ours, theirs, strict=True))
        mine = statistics.median(a[key] for a in ours)
        print(f"  {key:44} {mine:9.2f} ms  {ratio:6.3f}x")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--against"]:
        rounds = int(argv[3]) if argv[2:3] == ["--rounds"] else 8
        compare(Path(argv[1]), rounds)
        return
    if argv:
        paths = [Path(a) for a in argv]
    else:
        samples = sorted((ROOT / "sample_plugins").rglob("*.wasm"), key=lambda p: p.stat().st_size)
        paths = samples[-1:]
    for path in paths:
        bench(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), path.read_bytes())
    bench("generated module", generated_module())


if __name__ == "__main__":
    main(sys.argv[1:])
