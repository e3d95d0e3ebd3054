"""Benchmark the questions about many runs: `traces stats`, `alerts check`, `dashboard`
and `traces diff` (issue 12's targets).

    python benchmarks/bench_insight.py [--traces 100000] [--dashboard-traces 10000] [--repeat 7]
                                       [--write BENCHMARKS.md]

Fills a home with copies of a real hello trace (new ids, a second apart, spread over
three binaries and two engines; durations and fuel drawn from a seeded log-normal
distribution; 8% failed, in three kinds), then runs the CLI as users do (a new process
each time) and prints the median wall time of each command:

- `traces stats` and `traces stats --by binary` over all of them: target <= 1.5 s;
- `alerts check` with five rules (counts, rates, a regular expression, fuel and
  duration filters) over all of them: target <= 1.5 s;
- `dashboard -o FILE` over a home of `--dashboard-traces`: target <= 3 s and <= 5 MB;
- `traces diff last~1 last` against `traces show --last`: target within 1.1x (`make
  bench`'s bench_cli.py compares the two side by side, interleaved, too).

`--write FILE` puts the figures between the `bench:insight` markers in FILE, stamped with
the machine, the date, the load and the command (`make bench` does).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wasmcli.config import RunConfig  # noqa: E402
from wasmcli.runtime.executor import Executor  # noqa: E402
from wasmcli.store.registry import Registry  # noqa: E402
from wasmcli.store.traces import TraceStore  # noqa: E402
from wasmcli.tracing.tracer import Tracer  # noqa: E402

HELLO = str(ROOT / "sample_plugins" / "hello.wasm")
RULES = """
[[alert]]
name = "traps"
error_kind = "trap"
condition = "count >= 5 within 1h"

[[alert]]
name = "hello failing"
binary = "hello"
condition = "failure_rate >= 5% over last 500 runs"

[[alert]]
name = "divide by zero"
message = "divide by (zero|nil)"
condition = "count >= 1 within 1d"

[[alert]]
name = "hungry"
min_fuel = 50000000
condition = "count >= 100 within 1h"

[[alert]]
name = "slow"
min_duration_ms = 20
condition = "failure_rate >= 50% over last 100 runs"
"""


def fill(home: Path, count: int) -> None:
    """`count` traces made from one real run, saved one by one as runs save them."""
    registry = Registry(home)
    tracer = Tracer(enabled=True, max_traces=1)
    trace = Executor(registry, tracer=tracer).execute(HELLO, "world", RunConfig()).trace
    assert trace is not None
    store = TraceStore(registry.conn)
    rng = random.Random(12)
    start = trace.started_at - timedelta(seconds=count)
    binaries = [
        (trace.binary_id, "hello"),
        (str(uuid.uuid4()), "word_freq"),
        (str(uuid.uuid4()), "json_fields"),
    ]
    kinds = [
        ("trap", "Plugin trapped: integer divide by zero"),
        ("timeout", "Execution timeout"),
        ("plugin_error", "Plugin returned ERROR_PARSE_ERROR"),
    ]
    for n in range(count):
        binary_id, name = binaries[n % 3]
        failed = rng.random() < 0.08
        kind, message = kinds[n % 3] if failed else (None, None)
        copy = replace(
            trace,
            trace_id=str(uuid.uuid4()),
            binary_id=binary_id,
            binary_name=name,
            engine="wasmtime" if n % 4 else "wasmer",
            started_at=start + timedelta(seconds=n),
            duration_us=int(rng.lognormvariate(8, 1.2)),
            fuel_consumed=None if kind == "trap" else int(rng.lognormvariate(14, 2)),
            success=not failed,
            error_kind=kind,
            error_message=message,
            return_code=-5 if kind == "plugin_error" else (None if failed else 0),
        )
        store.save(copy, max_traces=count, max_bytes=None)
    registry.close()


def median_time(
    home: Path, args: list[str], repeat: int, ok_codes: tuple[int, ...] = (0,)
) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of a command, in seconds.
    On a shared machine the CPU time says what the command costs; the wall time what a
    user waits."""
    env = {**os.environ, "WASMCLI_HOME": str(home), "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    times, cpu = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "wasmcli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        times.append(time.perf_counter() - began)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode not in ok_codes:
            raise SystemExit(f"wasmcli {' '.join(args)} failed: {done.stderr.decode()}")
    return statistics.median(times), statistics.median(cpu)


REPORT: list[str] = []
START_MARK, END_MARK = "<!-- bench:insight start -->", "<!-- bench:insight end -->"


def say(line: str) -> None:
    print(line)
    REPORT.append(line)


def show(label: str, figures: tuple[float, float], extra: str = "") -> None:
    wall, cpu = figures
    say(f"  wasmcli {label:30} {wall:6.2f} s wall {cpu:6.2f} s CPU{extra}")


def write_report(path: Path, command: str, load: tuple[str, str]) -> None:
    """Put the figures between this benchmark's markers in `path` (appended when none)."""
    from bench_cli import machine  # the same machine line as `make bench`'s table

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            f"Taken {stamp} on {machine()}.",
            f"Load average (1/5/15 min) {load[0]} before, {load[1]} after.",
            f"Command: `{command}`. Medians of new processes; CPU is user + system time.",
            "",
            "```",
            *REPORT,
            "```",
            "",
        ]
    )
    text = path.read_text() if path.exists() else ""
    section = f"{START_MARK}\n{block}{END_MARK}"
    if START_MARK in text and END_MARK in text:
        before, rest = text.split(START_MARK, 1)
        path.write_text(before + section + rest.split(END_MARK, 1)[1])
    else:
        path.write_text(text.rstrip("\n") + "\n\n" + section + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--dashboard-traces", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", type=Path, help="put the figures into this Markdown file")
    options = parser.parse_args()
    from bench_cli import load_average

    load_before = load_average()
    with tempfile.TemporaryDirectory() as folder:
        big, small = Path(folder) / "big", Path(folder) / "small"
        began = time.perf_counter()
        fill(big, options.traces)
        fill(small, options.dashboard_traces)
        print(f"filled the homes in {time.perf_counter() - began:.0f} s")
        (big / "alerts.toml").write_text(RULES, encoding="utf-8")
        repeat = options.repeat
        say(f"{options.traces:,} traces stored (median of {repeat}, a new process each time)")
        baseline = median_time(big, ["--version"], repeat)
        show("--version (start-up floor)", baseline)
        for args in (
            ["traces", "stats"],
            ["traces", "stats", "--by", "binary"],
            ["traces", "stats", "--by", "day", "--json"],
        ):
            show(" ".join(args), median_time(big, args, repeat))
        show("alerts check (5 rules)", median_time(big, ["alerts", "check"], repeat, (0, 1)))
        report = Path(folder) / "report.html"
        dashboard = median_time(small, ["dashboard", "-o", str(report)], repeat)
        say(f"{options.dashboard_traces:,} traces stored")
        size = report.stat().st_size / 1024 / 1024
        show("dashboard -o report.html", dashboard, f", {size:.2f} MB")
        shown = median_time(small, ["traces", "show", "--last"], repeat)
        diff = median_time(small, ["traces", "diff", "last~1", "last"], repeat, (0, 1))
        show("traces show --last", shown)
        show("traces diff last~1 last", diff, f" ({diff[1] / shown[1]:.2f}x show's CPU)")
    if options.write:
        command = " ".join(["python", "benchmarks/bench_insight.py", *sys.argv[1:]])
        write_report(options.write, command, (load_before, load_average()))
        print(f"written into {options.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
