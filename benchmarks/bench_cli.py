"""How much a wasmcli invocation costs next to the floor it stands on (`make bench`).

    python benchmarks/bench_cli.py [--rounds N] [--only TEXT] [--write BENCHMARKS.md]

Each row is a pair: a wasmcli command and a baseline that does the least any tool doing the
same job must do (start Python, import typer and rich, run the plugin on wasmtime). Both
run as new processes, interleaved: every round runs every pair, wasmcli and baseline back
to back, alternating which goes first, so a neighbour's load hits both alike. The ratio is
the median of the per-round ratios; the times are medians too.

`--write FILE` replaces the table between the `bench:cli` markers in FILE (appending it
when the markers are missing), stamped with the machine, the date and the command.

Adding a row: append a `CommandPair` to `rows()`, or any object with the `Row` methods
(`sample` once per round, `reset` after the warm-up, `result` at the end), e.g. a
batch-throughput row that times one `run --batch` per round and reports runs per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
WASMCLI = str(BIN / "wasmcli")
HELLO = ROOT / "sample_plugins" / "hello.wasm"
MINIMAL_HOST = str(ROOT / "benchmarks" / "minimal_host.py")
CLI_IMPORTS = "import typer, rich.console"
START_MARK, END_MARK = "<!-- bench:cli start -->", "<!-- bench:cli end -->"
TRACES_STORED = 100


@dataclass(frozen=True)
class Result:
    what: str
    figure: str  # wasmcli's figure, e.g. "182 ms"
    baseline: str  # what it is compared with, and its figure
    ratio: float | None
    target: float | None  # the ratio to stay at or under; None: no target, shown for scale
    cpu_ratio: float | None = None  # the same ratio in CPU time

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return "—"
        return f"≤ {self.target:.1f}x: {'met' if self.ratio <= self.target else 'missed'}"


class Row(Protocol):
    what: str

    def sample(self, bench: Bench, round_no: int) -> None: ...

    def reset(self) -> None: ...

    def result(self) -> Result: ...


@dataclass
class Bench:
    """The temporary home every row runs against, and the environment of its processes."""

    home: Path
    env: dict[str, str]

    def time_process(self, argv: list[str]) -> tuple[float, float]:
        """Wall-clock and CPU seconds of one new process (output thrown away; it must
        succeed). CPU time (user + system, all threads) moves less than wall-clock time
        when neighbours share the machine."""
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} exited {process.returncode}")
        return elapsed, usage.ru_utime + usage.ru_stime


@dataclass
class CommandPair:
    what: str
    command: list[str]
    baseline_label: str
    baseline: list[str]
    target: float | None
    samples: list[tuple[float, float]] = field(default_factory=list)  # (wasmcli, baseline)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)

    def sample(self, bench: Bench, round_no: int) -> None:
        if round_no % 2:
            base = bench.time_process(self.baseline)
            mine = bench.time_process(self.command)
        else:
            mine = bench.time_process(self.command)
            base = bench.time_process(self.baseline)
        self.samples.append((mine[0], base[0]))
        self.cpu_samples.append((mine[1], base[1]))

    def reset(self) -> None:
        self.samples.clear()
        self.cpu_samples.clear()

    def result(self) -> Result:
        return Result(
            what=self.what,
            figure=_ms(statistics.median(mine for mine, _ in self.samples)),
            baseline=(
                f"{self.baseline_label}: {_ms(statistics.median(base for _, base in self.samples))}"
            ),
            ratio=statistics.median(mine / base for mine, base in self.samples),
            target=self.target,
            cpu_ratio=statistics.median(mine / base for mine, base in self.cpu_samples),
        )


def rows() -> list[Row]:
    return [
        CommandPair(
            "`wasmcli run hello --input world` (registered, cached)",
            [WASMCLI, "run", "hello", "--input", "world"],
            f"`{CLI_IMPORTS}` + a minimal wasmtime host (import, compile, instantiate, call)",
            [PYTHON, MINIMAL_HOST, str(HELLO), "world", "--cli-imports"],
            1.2,
        ),
        CommandPair(
            "same",
            [WASMCLI, "run", "hello", "--input", "world"],
            "the minimal wasmtime host alone",
            [PYTHON, MINIMAL_HOST, str(HELLO), "world"],
            None,
        ),
        CommandPair(
            f"`wasmcli traces list` ({TRACES_STORED} traces)",
            [WASMCLI, "traces", "list"],
            f'`python -c "{CLI_IMPORTS}"`',
            [PYTHON, "-c", CLI_IMPORTS],
            1.1,
        ),
        *traces_at_scale(),
        CommandPair(
            f"`wasmcli traces diff last~1 last` ({TRACES_STORED} traces; a gate, so exit 0)",
            [WASMCLI, "traces", "diff", "last~1", "last", "--max-fuel-increase", "100"],
            "`wasmcli traces show --last`",
            [WASMCLI, "traces", "show", "--last"],
            1.1,
        ),
        CommandPair(
            "`wasmcli list` (1 binary)",
            [WASMCLI, "list"],
            f'`python -c "{CLI_IMPORTS}"`',
            [PYTHON, "-c", CLI_IMPORTS],
            1.1,
        ),
        CommandPair(
            "`wasmcli --help`",
            [WASMCLI, "--help"],
            f'`python -c "{CLI_IMPORTS}"`',
            [PYTHON, "-c", CLI_IMPORTS],
            1.1,
        ),
        CommandPair(
            "`wasmcli --version`",
            [WASMCLI, "--version"],
            "`python -c pass`",
            [PYTHON, "-c", "pass"],
            None,
        ),
    ]


def traces_at_scale() -> list[Row]:
    """`traces list` with 100,000 traces stored against 100 (benchmarks/bench_traces.py)."""
    from bench_traces import scale_rows

    return list(scale_rows())


def prepare_home(home: Path, env: dict[str, str]) -> None:
    """wasmcli's bytecode compiled (as `pip install` leaves it), hello registered and
    cached, and TRACES_STORED traces of it stored."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "wasmcli")], env=env, check=True)
    subprocess.run(
        [WASMCLI, "register", str(HELLO), "--name", "hello"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The library stores the traces quickly (a new process per trace would take minutes).
    script = (
        "import sys\n"
        "from wasmcli.runtime.executor import Executor\n"
        "from wasmcli.store.registry import Registry\n"
        "executor = Executor(Registry(sys.argv[1]))\n"
        f"for i in range({TRACES_STORED}):\n"
        "    assert executor.execute('hello', f'input {i}').success\n"
    )
    subprocess.run([PYTHON, "-c", script, str(home)], env=env, check=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    packages = ", ".join(f"{name} {version(name)}" for name in ("typer", "rich", "wasmtime"))
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}; {packages}"
    )


def load_average() -> str:
    try:
        return " / ".join(f"{value:.1f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def render(results: list[Result], rounds: int, command: str, load: tuple[str, str]) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Taken {stamp} on {machine()}.",
        f"Load average (1/5/15 min) {load[0]} before, {load[1]} after.",
        f"Command: `{command}`; {rounds} interleaved rounds. Times are wall-clock medians;",
        "a ratio is the median of the per-round ratios, in wall-clock and in CPU time.",
        "",
        "| what | wasmcli | baseline | ratio | CPU-time ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        lines.append(
            f"| {result.what} | {result.figure} | {result.baseline} | {_ratio(result.ratio)} "
            f"| {_ratio(result.cpu_ratio)} | {result.verdict} |"
        )
    return "\n".join(lines) + "\n"


def write_section(
    path: Path, table: str, start_mark: str = START_MARK, end_mark: str = END_MARK
) -> None:
    """Replace the text between the markers in `path` (append it when they are missing)."""
    text = path.read_text() if path.exists() else ""
    section = f"{start_mark}\n{table}{end_mark}"
    if start_mark in text and end_mark in text:
        before, rest = text.split(start_mark, 1)
        after = rest.split(end_mark, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


def _ratio(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.2f}x"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2, help="rounds run first and not counted")
    parser.add_argument("--only", help="only the rows whose description contains this text")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()

    selected = [row for row in rows() if not args.only or args.only in row.what]
    with tempfile.TemporaryDirectory(prefix="wasmcli-bench-") as tmp:
        # Without PYTHONDONTWRITEBYTECODE: an installed wasmcli has its bytecode cached,
        # as typer, rich and wasmtime do; compiling each module on each start is not a cost
        # any user pays.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("WASMCLI_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(WASMCLI_HOME=str(Path(tmp) / "home"), NO_COLOR="1", COLUMNS="120")
        bench = Bench(Path(tmp) / "home", env)
        prepare_home(bench.home, env)
        load_before = load_average()
        for round_no in range(args.warmup):
            for row in selected:
                row.sample(bench, round_no)
        for row in selected:
            row.reset()  # the warm-up rounds do not count
        for round_no in range(args.rounds):
            for row in selected:
                row.sample(bench, round_no)
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        load_after = load_average()
    command = " ".join(["python", "benchmarks/bench_cli.py", *sys.argv[1:]])
    table = render(
        [row.result() for row in selected], args.rounds, command, (load_before, load_after)
    )
    print(table)
    if args.write:
        write_section(args.write, table)
        print(f"written into {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
