"""Break each README promise on purpose, one at a time, and check that the suite notices.

    .venv/bin/python -m tests.break_promises            # every break (make break-promises)
    .venv/bin/python -m tests.break_promises NAME ...   # some of them
    .venv/bin/python -m tests.break_promises --list     # what each break does

Each break is a small patch (an exact piece of source replaced by another) applied to a
scratch copy of the working tree, never to the tree itself. The tests that guard the
promise then run against that copy (on Python 3.10 too where the promise concerns
wasmer), and the break is

- caught: the tests failed;
- MISSED: they passed with the promise broken (the suite has a gap: exit 1);
- stale: the patch no longer applies (the code moved: update the patch; exit 1);
- error: pytest could not run the tests at all (a collection error is not a catch).

The tests are first run once on the unbroken copy: a test that fails anyway proves
nothing, so the script stops there (exit 1) when they do.

The list of tests for each break names the ones that guard that promise, so the whole
check takes minutes rather than the suite's quarter of an hour; `make test` runs them
all, so every break caught here also fails `make test`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.scratch import REPO, sync_tree

PY311 = REPO / ".venv" / "bin" / "python"
PY310 = REPO / ".venv310" / "bin" / "python"


@dataclass(frozen=True)
class Break:
    name: str
    promise: str  # what the README promises, in a user's words
    # (file, exact source that must be there once, what it becomes), applied together
    edits: tuple[tuple[str, str, str], ...]
    tests: tuple[str, ...]  # pytest node ids or files that guard the promise
    wasmer: bool = False  # the promise concerns wasmer: run the tests on Python 3.10 too


BREAKS: tuple[Break, ...] = (
    Break(
        name="cache-checksum-of-length",
        promise="a damaged compiled artifact is recompiled, never loaded",
        edits=(
            # The checksum written and the one checked, both of the length alone.
            (
                "wasmcli/store/cache.py",
                "and hashlib.sha256(payload).hexdigest() == header.payload_sha256",
                "and hashlib.sha256(str(len(payload)).encode()).hexdigest()"
                " == header.payload_sha256",
            ),
            (
                "wasmcli/store/cache.py",
                "payload_sha256=hashlib.sha256(payload).hexdigest(),",
                "payload_sha256=hashlib.sha256(str(len(payload)).encode()).hexdigest(),",
            ),
        ),
        tests=("tests/test_store.py", "tests/test_cache_and_isolation.py"),
    ),
    Break(
        name="console-ignores-no-color",
        promise="NO_COLOR turns colors off",
        edits=(
            (
                "wasmcli/render/console.py",
                "return _Console(file=file, highlight=False, soft_wrap=False)",
                "return _Console(file=file, highlight=False, soft_wrap=False, no_color=False)",
            ),
        ),
        tests=("tests/test_consoles.py",),
    ),
    Break(
        name="console-ignores-no-color-on-stderr",
        promise="NO_COLOR turns colors off (the diagnostics console: timelines, summaries)",
        edits=(
            (
                "wasmcli/render/console.py",
                "stderr=file is None, highlight=False, soft_wrap=False)",
                "stderr=file is None, highlight=False, soft_wrap=False, no_color=False)",
            ),
        ),
        tests=("tests/test_consoles.py",),
    ),
    Break(
        name="remove-deletes-traces",
        promise="`wasmcli remove` removes a binary; its traces stay",
        edits=(
            (
                "wasmcli/store/registry.py",
                'conn.execute("DELETE FROM binaries WHERE id = ?", (record.id,))',
                'conn.execute("DELETE FROM binaries WHERE id = ?", (record.id,)); '
                'conn.execute("DELETE FROM traces WHERE binary_id = ?", (record.id,))',
            ),
        ),
        tests=("tests/test_registry_cli.py", "tests/test_store.py"),
    ),
    Break(
        name="no-exit-10-guard",
        promise="a bug in wasmcli is exit 10 with one line (the traceback under WASMCLI_DEBUG=1)",
        edits=(
            (
                "wasmcli/cli/errors.py",
                "# A bug in wasmcli: one line that asks for a report; the traceback on request.",
                "raise exc  # the guard removed: a bug ends in Python's traceback",
            ),
        ),
        tests=(
            "tests/test_shell_contract.py::test_a_bug_is_exit_10_with_one_line_and_the_traceback_on_request",
            "tests/test_shell_contract.py::test_a_bug_during_a_run_is_exit_10_and_keeps_the_trace",
        ),
    ),
    Break(
        name="trace-save-not-atomic",
        promise="a trace is saved whole or not at all, whenever wasmcli is killed",
        edits=(
            (
                "wasmcli/store/traces.py",
                "        saved: list[tuple[str, int]] = []\n"
                "        with Transaction(self.conn) as conn:\n",
                "        saved: list[tuple[str, int]] = []\n"
                "        with __import__('contextlib').nullcontext(self.conn) as conn:\n",
            ),
        ),
        tests=(
            "tests/test_store.py::test_killing_wasmcli_during_a_trace_save_never_leaves_half_a_trace",
        ),
    ),
    Break(
        name="wasmer-child-outlives-wasmcli",
        promise="a killed wasmcli leaves no plugin running",
        edits=(
            (
                "wasmcli/engines/isolation.py",
                "            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)\n",
                "            pass\n",
            ),
        ),
        tests=("tests/test_subprocess.py::test_killing_wasmcli_leaves_no_plugin_running",),
        wasmer=True,
    ),
    Break(
        name="cache-key-without-memory-cap",
        promise="--memory-limit-mb holds on every run, cached module or not (both engines)",
        edits=(
            (
                "wasmcli/wasm/memory_limit.py",
                'return ("resource-limit", self.limit_bytes)',
                'return ("resource-limit",)',
            ),
        ),
        tests=(
            "tests/test_hostile_home.py::test_the_memory_cap_is_part_of_what_an_artifact_is_bound_to",
            "tests/test_cache_and_isolation.py::test_a_cached_module_holds_each_runs_own_memory_cap",
        ),
        wasmer=True,
    ),
    Break(
        name="cache-key-without-call-depth",
        promise="--max-call-depth holds on every run, cached module or not (both engines)",
        edits=(
            (
                "wasmcli/wasm/depth.py",
                'return ("call-depth", VERSION, self.max_depth)',
                'return ("call-depth", VERSION)',
            ),
        ),
        tests=("tests/test_call_depth.py",),
        wasmer=True,
    ),
    Break(
        name="instance-counting-to-another-depth",
        promise="a module compiled for another call-depth limit is never run",
        edits=(
            (
                "wasmcli/engines/instrumented.py",
                "        if compiled_for != max_depth:\n",
                "        if False:\n",
            ),
        ),
        tests=("tests/test_call_depth.py",),
    ),
    Break(
        name="variables-win-over-options",
        promise="an option wins over its environment variable",
        edits=(
            (
                "wasmcli/config.py",
                "        values.update(given)\n",
                "        values.update(given)\n"
                "        for key, read in readers.items():\n"
                "            bound = BOUNDS.get(key)\n"
                "            variable = bound.variable if bound else 'WASMCLI_ENGINE'\n"
                "            if os.environ.get(variable or ''):\n"
                "                values[key] = read()\n",
            ),
        ),
        tests=("tests/test_settings.py",),
    ),
    Break(
        name="home-variable-wins-over-option",
        promise="--home wins over WASMCLI_HOME",
        edits=(
            (
                "wasmcli/home_path.py",
                "    if option:\n        return os.path.expanduser(option)\n"
                '    if os.environ.get("WASMCLI_HOME"):\n',
                '    if os.environ.get("WASMCLI_HOME"):\n',
            ),
        ),
        tests=("tests/test_settings.py", "tests/test_cache_and_isolation.py"),
    ),
)


def pythons(item: Break) -> list[Path]:
    found = [PY311]
    if item.wasmer:
        if not PY310.exists():
            sys.exit(f"{PY310} is missing: run `make install310` (break {item.name} needs wasmer)")
        found.append(PY310)
    return found


def run_tests(python: Path, copy: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    """pytest's exit code and its last lines, the copy's wasmcli imported first."""
    env = {
        **os.environ,
        # The copy's package, not the editable install's, in pytest and in every
        # process the tests start (the console script included).
        "PYTHONPATH": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    return done.returncode, "; ".join(failed[:2]) or (lines[-1] if lines else "")


def check_break(item: Break, copy: Path) -> tuple[str, str]:
    originals: dict[Path, str] = {}
    try:
        for path, old, new in item.edits:
            target = copy / path
            text = target.read_text()
            originals.setdefault(target, text)
            if text.count(old) != 1:
                return "stale", f"the patch's source is not in {path} exactly once: {old!r}"
            target.write_text(text.replace(old, new))
        for python in pythons(item):
            code, detail = run_tests(python, copy, item.tests)
            version = "3.10" if python == PY310 else "3.11"
            if code == 1:
                return "caught", f"on {version}: {detail}"
            if code != 0:
                return "error", f"pytest exit {code} on {version}: {detail}"
        return "MISSED", "the tests passed with the promise broken"
    finally:
        for target, text in originals.items():
            target.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="breaks to check (default: all)")
    parser.add_argument("--list", action="store_true", help="list the breaks and exit")
    args = parser.parse_args(argv)
    chosen = [b for b in BREAKS if not args.names or b.name in args.names]
    unknown = set(args.names) - {b.name for b in BREAKS}
    if unknown:
        parser.error(f"unknown break(s): {', '.join(sorted(unknown))}")
    if args.list:
        for item in chosen:
            files = sorted({path for path, _, _ in item.edits})
            print(f"{item.name}: {item.promise} ({', '.join(files)}; tests {' '.join(item.tests)})")
        return 0
    with tempfile.TemporaryDirectory(prefix="wasmcli-breaks-") as scratch:
        copy = Path(scratch)
        sync_tree(copy)
        # The guarding tests must pass before anything is broken.
        for python in sorted({p for item in chosen for p in pythons(item)}):
            tests = sorted({t for item in chosen if python in pythons(item) for t in item.tests})
            code, detail = run_tests(python, copy, tuple(tests))
            if code != 0:
                print(f"the tests fail with nothing broken ({python}): {detail}")
                return 1
        results = []
        for item in chosen:
            started = time.monotonic()
            verdict, detail = check_break(item, copy)
            results.append(verdict)
            took = time.monotonic() - started
            print(f"{verdict:7} {item.name} ({took:.0f} s): {item.promise}", flush=True)
            print(f"        {detail}", flush=True)
    caught = results.count("caught")
    print(f"break-promises: {caught} of {len(results)} breaks caught")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
