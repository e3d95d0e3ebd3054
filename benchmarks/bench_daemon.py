"""What the daemon buys (`make bench`): commands from the shell with a daemon running,
side by side with the extism Python SDK run cold, with the same commands in-process, and
32 clients at once.

    python benchmarks/bench_daemon.py --bin .venv-bench/bin [--rounds N] [--write BENCHMARKS.md]

`--bin` is a virtualenv where wasmcli is installed as users install it (`pip install .`,
not editable: setuptools' editable finder alone costs every Python start in a
development virtualenv more than the whole client) with extism beside it (`make bench`
makes `.venv-bench` so; extism is never a wasmcli dependency). Every figure is a new
process started from this script, as a shell starts it, its output thrown away; rows are
interleaved round by round, so a neighbour's load hits them alike; medians of wall time
and of the client process's CPU time (the daemon's own CPU is not in it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_cli import load_average, machine, write_section  # noqa: E402

HELLO = ROOT / "sample_plugins" / "hello.wasm"
HELLO_EXTISM = ROOT / "benchmarks" / "hello_extism.wat"
START_MARK, END_MARK = "<!-- bench:daemon start -->", "<!-- bench:daemon end -->"
CLIENTS = 32
TRACES_STORED = 100
EXTISM_HOST = """
import sys
import extism
with extism.Plugin(open(sys.argv[1], "rb").read(), wasi=False) as plugin:
    sys.stdout.write(plugin.call("greet", sys.argv[2].encode()).decode() + "\\n")
"""
FAST_PATH = """
import sys, time
started = time.perf_counter()
from wasmcli.daemon.client import serve_through_daemon
assert serve_through_daemon(["wasmcli", "run", "hello"]) is None
sys.stdout.write(repr(time.perf_counter() - started))
"""


@dataclass
class Timed:
    what: str
    argv: list[str]
    env: dict[str, str]
    target_ms: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def sample(self) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(process.pid, 0)
        self.wall.append(time.perf_counter() - started)
        self.cpu.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(self.argv)} failed")

    def row(self) -> str:
        wall = statistics.median(self.wall) * 1000
        cpu = statistics.median(self.cpu) * 1000
        if self.target_ms is None:
            verdict = "—"
        else:
            verdict = f"≤ {self.target_ms:g} ms: {'met' if wall <= self.target_ms else 'missed'}"
        return f"| {self.what} | {wall:.1f} ms | {cpu:.1f} ms | {verdict} |"


def prepare(bin_dir: Path, home: Path, env: dict[str, str], work: Path) -> None:
    wasmcli = str(bin_dir / "wasmcli")
    run = {"env": env, "check": True, "capture_output": True}
    subprocess.run([wasmcli, "register", str(HELLO), "--name", "hello"], **run)
    script = (
        "import sys\n"
        "from wasmcli.runtime.executor import Executor\n"
        "from wasmcli.store.registry import Registry\n"
        "executor = Executor(Registry(sys.argv[1]))\n"
        f"for i in range({TRACES_STORED}):\n"
        "    assert executor.execute('hello', f'input {i}').success\n"
    )
    subprocess.run([str(bin_dir / "python"), "-c", script, str(home)], **run)
    wat = HELLO_EXTISM.read_text()
    wasm = subprocess.run(
        [str(bin_dir / "python"), "-c", "import sys, wasmtime; sys.stdout.buffer.write("
         "wasmtime.wat2wasm(sys.stdin.read()))"],
        input=wat.encode(), capture_output=True, check=True, env=env,
    ).stdout  # fmt: skip
    (work / "hello_extism.wasm").write_bytes(wasm)
    (work / "extism_host.py").write_text(EXTISM_HOST)


def daemon_cpu(pid: int) -> float:
    """CPU seconds of the daemon's main process and of every process it forked and
    reaped (the requests): /proc's utime, stime, cutime and cstime."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def clients_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def concurrent_clients(wasmcli: str, env: dict[str, str], pid: int) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of clients and daemon) of CLIENTS calls one after
    another, then all at once (each checked)."""

    def call(i: int) -> None:
        done = subprocess.run(
            [wasmcli, "run", "hello", "-i", f"client {i}"], env=env, capture_output=True
        )
        assert done.returncode == 0 and done.stdout == f"Hello, client {i}!\n".encode()

    def sequential() -> None:
        for i in range(CLIENTS):
            call(i)

    def together() -> None:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(call, range(CLIENTS)))

    figures = []
    for way in (sequential, together):
        time.sleep(1)  # the processes forked after the previous calls are warm again
        cpu, started = clients_cpu() + daemon_cpu(pid), time.perf_counter()
        way()
        wall = time.perf_counter() - started
        time.sleep(1)  # the last requests reaped
        figures.append((wall, clients_cpu() + daemon_cpu(pid) - cpu))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, required=True, help="the bench virtualenv's bin/")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    bin_dir = args.bin.resolve()
    wasmcli, python = str(bin_dir / "wasmcli"), str(bin_dir / "python")
    with tempfile.TemporaryDirectory(prefix="wasmcli-bench-daemon-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("WASMCLI_") and k not in ("PYTHONDONTWRITEBYTECODE",)
        }
        env.update(WASMCLI_HOME=str(home), NO_COLOR="1", COLUMNS="120")
        prepare(bin_dir, home, env, work)
        served, plain = dict(env, WASMCLI_DAEMON="auto"), dict(env, WASMCLI_DAEMON="0")
        run_hello = [wasmcli, "run", "hello", "--input", "world"]
        extism = [python, str(work / "extism_host.py"), str(work / "hello_extism.wasm"), "world"]
        tl = [wasmcli, "traces", "list"]
        no_daemon_rows = [
            Timed("`wasmcli run hello --input world`, no daemon", run_hello, served),
            Timed("same, `WASMCLI_DAEMON=0` (no check)", run_hello, plain),
            Timed("import the client, find no daemon", [python, "-c", FAST_PATH], served),
        ]  # fmt: skip
        daemon_rows = [
            Timed("`wasmcli run hello --input world` through the daemon", run_hello, served, 25),
            Timed("the extism Python SDK, cold: import, load hello, call", extism, served),
            Timed("`python -c pass` (any Python tool's floor)", [python, "-c", "pass"], served),
            Timed(f"`wasmcli traces list` via the daemon ({TRACES_STORED} traces)", tl, served, 20),
            Timed("`wasmcli --help` through the daemon", [wasmcli, "--help"], served, 20),
            Timed("`wasmcli run hello --input world` in-process", run_hello, plain),
        ]  # fmt: skip
        load_before = load_average()
        fast_path = []
        for round_no in range(args.rounds + 1):
            for row in no_daemon_rows:
                row.sample()
                if round_no == 0:  # warm-up round
                    row.wall.clear(), row.cpu.clear()
            done = subprocess.run([python, "-c", FAST_PATH], env=served, capture_output=True)
            fast_path.append(float(done.stdout))
            print(f"without a daemon: round {round_no}/{args.rounds}", file=sys.stderr, end="\r")
        subprocess.run([wasmcli, "daemon", "start", "--idle", "10m"], env=env, check=True)
        pid = json.loads((home / "daemon" / "info.json").read_text())["pid"]
        try:
            for round_no in range(args.rounds + 1):
                for row in daemon_rows:
                    row.sample()
                    if round_no == 0:
                        row.wall.clear(), row.cpu.clear()
                print(f"with the daemon: round {round_no}/{args.rounds}", file=sys.stderr, end="\r")
            (sequential, sequential_cpu), (together, together_cpu) = concurrent_clients(
                wasmcli, served, pid
            )
        finally:
            subprocess.run([wasmcli, "daemon", "stop"], env=env, capture_output=True)
        print(file=sys.stderr)
        load_after = load_average()
    cores = os.cpu_count() or 1
    limit = 1.5 * sequential / cores
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        f"Taken {stamp} on {machine()}.",
        f"Load average (1/5/15 min) {load_before} before, {load_after} after.",
        f"Command: `python benchmarks/bench_daemon.py {' '.join(sys.argv[1:])}`; "
        f"{args.rounds} interleaved rounds, medians; wasmcli installed with `pip install .`.",
        "",
        "| what | wall | client CPU | target |",
        "|---|---|---|---|",
        *(row.row() for row in daemon_rows),
        *(row.row() for row in no_daemon_rows),
        f"| the fast-path check, timed inside the process | "
        f"{statistics.median(fast_path) * 1000:.2f} ms | — | ≤ 2 ms: "
        f"{'met' if statistics.median(fast_path) <= 0.002 else 'missed'} |",
        f"| {CLIENTS} clients at once through the daemon, all correct | "
        f"{together * 1000:.0f} ms | — | ≤ 1.5 × {CLIENTS} sequential ({sequential * 1000:.0f} ms)"
        f" / {cores} cores = {limit * 1000:.0f} ms: {'met' if together <= limit else 'missed'} |",
        f"| CPU of those {CLIENTS} commands, clients and daemon: one after another, then at once "
        f"| {sequential_cpu * 1000:.0f} ms, {together_cpu * 1000:.0f} ms | — | — |",
    ]
    table = "\n".join(lines) + "\n"
    print(table)
    if args.write:
        write_section(args.write, table, START_MARK, END_MARK)
        print(f"written into {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
