"""What the CI and observability formats cost (`make bench`): each option or command next
to the plain command it extends.

    python benchmarks/bench_integrations.py [--rounds N] [--only TEXT] [--write BENCHMARKS.md]

Every row pairs a command that writes a format with the same work without it, both as
new processes, interleaved as in bench_cli.py (whose machinery this uses): `run --junit`,
`run` inside GitHub Actions (annotations and the job summary), `run --otlp` (to a local
OTLP/HTTP endpoint in this process that accepts everything), against a plain `run`;
`metrics` against `traces list`; `traces export --format otlp|junit` against `jsonl`,
over the same 100 stored traces. A plain `run` imports none of the formats' libraries
(tests/test_startup.py); these rows show what asking for one costs.

`--write FILE` replaces the table between the `bench:integrations` markers in FILE.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import (  # noqa: E402 - the benchmarks folder is not a package
    TRACES_STORED,
    WASMCLI,
    Bench,
    CommandPair,
    load_average,
    prepare_home,
    render,
    write_section,
)

START_MARK, END_MARK = "<!-- bench:integrations start -->", "<!-- bench:integrations end -->"
ENV = "/usr/bin/env"


class _Accepting(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that takes every request (an empty 200 is a full success)."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@contextmanager
def otlp_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def rows(tmp: Path, endpoint: str) -> list[CommandPair]:
    run = [WASMCLI, "run", "hello", "--input", "world"]
    summary = tmp / "step_summary.md"
    in_github = [ENV, "GITHUB_ACTIONS=true", f"GITHUB_STEP_SUMMARY={summary}"]
    export = [WASMCLI, "traces", "export", "--format"]
    return [
        CommandPair(
            "`run hello --input world --junit FILE`",
            [*run, "--junit", str(tmp / "report.xml")],
            "the same run without `--junit`",
            run,
            None,
        ),
        CommandPair(
            "`run hello --input world` in GitHub Actions (`GITHUB_ACTIONS=true`, a summary file)",
            [*in_github, *run],
            "the same run outside (through `env` too)",
            [ENV, *run],
            None,
        ),
        CommandPair(
            "`run hello --input world --otlp` (a local endpoint)",
            [ENV, f"OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}", *run, "--otlp"],
            "the same run without `--otlp`",
            [ENV, *run],
            None,
        ),
        CommandPair(
            f"`metrics` ({TRACES_STORED} traces)",
            [WASMCLI, "metrics"],
            "`traces list`",
            [WASMCLI, "traces", "list"],
            None,
        ),
        CommandPair(
            f"`traces export --format otlp` ({TRACES_STORED} traces)",
            [*export, "otlp"],
            "`traces export --format jsonl`",
            [*export, "jsonl"],
            None,
        ),
        CommandPair(
            f"`traces export --format junit` ({TRACES_STORED} traces)",
            [*export, "junit"],
            "`traces export --format jsonl`",
            [*export, "jsonl"],
            None,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2, help="rounds run first and not counted")
    parser.add_argument("--only", help="only the rows whose description contains this text")
    parser.add_argument("--write", type=Path, help="put the table into this Markdown file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="wasmcli-bench-") as tmp, otlp_endpoint() as url:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WASMCLI_", "GITHUB_", "OTEL_")) and k != "PYTHONDONTWRITEBYTECODE"
        }
        env.update(WASMCLI_HOME=str(Path(tmp) / "home"), NO_COLOR="1", COLUMNS="120")
        # Traces stay at TRACES_STORED while the runs below add theirs.
        env.update(WASMCLI_MAX_TRACES=str(TRACES_STORED))
        bench = Bench(Path(tmp) / "home", env)
        prepare_home(bench.home, env)
        selected = [r for r in rows(Path(tmp), url) if not args.only or args.only in r.what]
        load_before = load_average()
        for round_no in range(args.warmup):
            for row in selected:
                row.sample(bench, round_no)
        for row in selected:
            row.reset()
        for round_no in range(args.rounds):
            for row in selected:
                row.sample(bench, round_no)
            print(f"round {round_no + 1}/{args.rounds}", file=sys.stderr, end="\r")
        print(file=sys.stderr)
        load_after = load_average()
    command = " ".join(["python", "benchmarks/bench_integrations.py", *sys.argv[1:]])
    table = render(
        [row.result() for row in selected], args.rounds, command, (load_before, load_after)
    )
    print(table)
    if args.write:
        write_section(args.write, table, START_MARK, END_MARK)
        print(f"written into {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
