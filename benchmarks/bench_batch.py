"""Batch throughput and what tracing costs (`make bench`, after bench_cli.py).

    python benchmarks/bench_batch.py [--inputs N] [--rounds R] [--engines wasmtime,wasmer]
                                     [--wasmer-bin DIR] [--write BENCHMARKS.md]

Every figure comes from `wasmcli run ... --batch` started as a new process in a fresh
temporary home, so it includes start-up, the one compile and writing the traces. Each
figure is the median of R rounds; CPU time (user + system of the process and its
workers) is shown beside wall-clock time because it moves less when neighbours share the
machine. wasmer needs Python 3.10: `--wasmer-bin` names the bin folder of a 3.10
virtualenv whose `wasmcli` runs the wasmer rows (`make bench` passes .venv310/bin).
`--write FILE` replaces the table between the `bench:batch` markers in FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WASMCLI = str(BIN / "wasmcli")
START_MARK, END_MARK = "<!-- bench:batch start -->", "<!-- bench:batch end -->"
HELLO = str(ROOT / "sample_plugins" / "hello.wasm")
WORD_FREQ = str(ROOT / "sample_plugins" / "word_freq.wasm")


@dataclass
class Timing:
    wall: float
    cpu: float


def run_process(argv: list[str], env: dict[str, str], stdin_path: Path | None = None) -> Timing:
    """Wall and CPU seconds of one process (CPU includes the children it waited for)."""
    started = time.perf_counter()
    with open(stdin_path or os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(argv)} exited {code}")
    return Timing(elapsed, usage.ru_utime + usage.ru_stime)


def median(timings: list[Timing]) -> Timing:
    return Timing(
        statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings)
    )


def batch_file(folder: Path, count: int, text: str = "world") -> Path:
    path = folder / f"batch-{count}.jsonl"
    path.write_text("".join(json.dumps({"input": f"{text}{i}"}) + "\n" for i in range(count)))
    return path


def timed_batch(
    env: dict[str, str], path: Path, rounds: int, *extra: str, plugin: str = HELLO
) -> Timing:
    argv = [env["BENCH_WASMCLI"], "run", plugin, "--batch", str(path), "--quiet", *extra]
    run_process(argv, env)  # warm: the artifact cache and the page cache
    return median([run_process(argv, env) for _ in range(rounds)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="wasmtime,wasmer")
    parser.add_argument("--wasmer-bin", type=Path, help="bin folder of a Python 3.10 venv")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()
    programs = {"wasmtime": WASMCLI, "wasmer": WASMCLI}
    if args.wasmer_bin is not None:
        programs["wasmer"] = str(args.wasmer_bin / "wasmcli")
    engines = [e for e in args.engines.split(",") if _works(programs[e], e)]
    rows: list[tuple[str, str, str]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        env = {
            **os.environ,
            "WASMCLI_HOME": str(tmp / "home"),
            # Keep every trace of the batch: the target is "traces stored".
            "WASMCLI_MAX_TRACES": str(args.inputs * (args.rounds + 2) * 2),
        }
        many = batch_file(tmp, args.inputs)
        fifty = batch_file(tmp, 50)
        for engine in engines:
            engine_env = {**env, "WASMCLI_ENGINE": engine, "BENCH_WASMCLI": programs[engine]}
            traced = timed_batch(engine_env, many, args.rounds)
            target = 5000 if engine == "wasmtime" else 1000
            rate = args.inputs / traced.wall
            rows.append(
                (
                    f"`run --batch` of {args.inputs:,} inputs to hello, traces stored, {engine}",
                    f"{rate:,.0f} runs/s wall ({args.inputs / traced.cpu:,.0f} per CPU second)",
                    f"≥ {target:,} runs/s: {'met' if rate >= target else 'missed'}",
                )
            )
            untraced = timed_batch(engine_env, many, args.rounds, "--no-trace")
            cost = traced.cpu / untraced.cpu - 1
            rows.append(
                (
                    f"tracing to SQLite, same batch, {engine} (CPU, vs `--no-trace`)",
                    f"+{cost:.0%}",
                    f"≤ 10%: {'met' if cost <= 0.10 else 'missed'}",
                )
            )
            one = timed_batch(engine_env, many, args.rounds, "--jobs", "1")
            two = timed_batch(engine_env, many, args.rounds, "--jobs", "2")
            speedup = one.wall / two.wall
            rows.append(
                (
                    f"`--jobs 2` vs `--jobs 1`, same batch, {engine}",
                    f"{speedup:.2f}x ({one.wall:.2f} s → {two.wall:.2f} s)",
                    f"≥ 1.6x: {'met' if speedup >= 1.6 else 'missed'}",
                )
            )
            shell = timed_batch(engine_env, fifty, max(args.rounds, 5))
            rows.append(
                (
                    f"a 50-input batch from the shell, end to end, {engine}",
                    f"{shell.wall * 1000:,.0f} ms (CPU {shell.cpu * 1000:,.0f} ms)",
                    f"≤ 1 s: {'met' if shell.wall <= 1 else 'missed'}",
                )
            )
        words_path = tmp / "words.jsonl"
        words = "the quick brown fox jumps over the lazy dog " * 25000  # 1.1 MB
        words_path.write_text(json.dumps({"input": words}) + "\n")
        word_freq: dict[str, Timing] = {}
        for engine in engines:
            engine_env = {**env, "WASMCLI_ENGINE": engine, "BENCH_WASMCLI": programs[engine]}
            traced = timed_batch(engine_env, words_path, args.rounds, plugin=WORD_FREQ)
            untraced = timed_batch(
                engine_env, words_path, args.rounds, "--no-trace", plugin=WORD_FREQ
            )
            word_freq[engine] = untraced
            cost = traced.cpu / untraced.cpu - 1
            rows.append(
                (
                    f"tracing word_freq on 1.1 MB, {engine} (CPU, vs `--no-trace`)",
                    f"{cost:+.1%}",
                    f"≤ 1%: {'met' if cost <= 0.01 else 'missed'}",
                )
            )
        if {"wasmtime", "wasmer"} <= word_freq.keys():
            ratio = word_freq["wasmer"].cpu / word_freq["wasmtime"].cpu
            rows.append(
                (
                    "word_freq on 1.1 MB, metered wasmer vs wasmtime (CPU, whole process)",
                    f"{ratio:.2f}x ({word_freq['wasmer'].cpu * 1000:,.0f} ms vs "
                    f"{word_freq['wasmtime'].cpu * 1000:,.0f} ms)",
                    f"≤ 2x: {'met' if ratio <= 2 else 'missed'}",
                )
            )
    table = render(rows, args, load_before, os.getloadavg())
    print(table)
    if args.write:
        write_section(args.write, table + "\n")
        print(f"written into {args.write}", file=sys.stderr)


def _works(program: str, engine: str) -> bool:
    """Whether `program` exists and can run `engine` (wasmer needs Python 3.10)."""
    if not Path(program).exists():
        return False
    probe = subprocess.run(
        [program, "run", HELLO, "--engine", engine, "--input", "x", "--no-trace", "-q"],
        capture_output=True,
    )
    return probe.returncode == 0


def write_section(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else ""
    section = f"{START_MARK}\n{table}{END_MARK}"
    if START_MARK in text and END_MARK in text:
        before, rest = text.split(START_MARK, 1)
        text = before + section + rest.split(END_MARK, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def render(
    rows: list[tuple[str, str, str]],
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {stamp}; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after.",
        f"Command: `python benchmarks/bench_batch.py {' '.join(sys.argv[1:])}` "
        f"(medians of {args.rounds} rounds; wasmer rows on Python 3.10).",
        "",
        "| what | figure | target |",
        "|---|---|---|",
    ]
    lines += [f"| {what} | {figure} | {target} |" for what, figure, target in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
