"""Start-up: each command imports only what it needs, and typer's wording stays readable.

wasmcli runs in shell loops and CI steps, where start-up is most of its cost. The speed
itself is measured by `make bench` (BENCHMARKS.md), never by a timed test; these tests
check what makes it fast, with `python -X importtime`: a module a command must not
import. They run the installed console script, as a shell does.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")

# Never needed by a read-only command: an engine, or typer 0.29's pydantic.
ENGINES = {"wasmtime", "wasmer", "wasmer_compiler_cranelift", "pydantic", "pydantic_core"}


def wasmcli_exe() -> str:
    candidate = Path(sys.executable).with_name("wasmcli")
    if not candidate.exists():
        pytest.skip("wasmcli console script not installed next to this Python")
    return str(candidate)


def imported_modules(*args: str, home: Path) -> set[str]:
    """Every module `wasmcli ARGS` imports, as `python -X importtime` reports them."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", wasmcli_exe(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WASMCLI_HOME": str(home), "WASMCLI_ENGINE": "wasmtime"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set()
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", line)
        if match:
            modules.add(match.group(1))
    assert modules, done.stderr[-2000:]
    return modules


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


@pytest.fixture(scope="module")
def home_with_a_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("startup") / "home"
    env = {**os.environ, "WASMCLI_HOME": str(home), "WASMCLI_ENGINE": "wasmtime"}
    for command in (["register", HELLO, "--name", "hello"], ["run", "hello", "-i", "x"]):
        subprocess.run([wasmcli_exe(), *command], env=env, check=True, capture_output=True)
    return home


@pytest.mark.parametrize(
    "args",
    [
        ["list"],
        ["traces", "list"],
        ["traces", "show", "--last"],
        ["traces", "export"],
        ["traces", "export", "--format", "otlp"],
        ["traces", "export", "--format", "junit"],
        ["metrics"],
        ["codes"],
        ["inspect", "hello"],
        ["--help"],
        ["run", "--help"],
        ["traces", "stats", "--by", "binary"],
        ["traces", "diff", "last", "hello:last"],
        ["alerts", "list"],
        ["dashboard", "--output", os.devnull],
    ],
    ids=" ".join,
)
def test_read_only_commands_import_no_engine_and_no_pydantic(
    args: list[str], home_with_a_trace: Path
) -> None:
    modules = imported_modules(*args, home=home_with_a_trace)
    assert "wasmcli.cli.group" in modules  # the check saw the command line at work
    assert top_level(modules) & ENGINES == set()
    assert not {"wasmcli.engines.wasmtime_engine", "wasmcli.runtime.executor"} & modules


def test_version_imports_neither_typer_nor_rich(home_with_a_trace: Path) -> None:
    modules = imported_modules("--version", home=home_with_a_trace)
    assert "wasmcli.cli" in modules
    assert top_level(modules) & {"typer", "rich", "sqlite3", *ENGINES} == set()


def test_help_draws_nothing_with_rich_and_opens_no_database(home_with_a_trace: Path) -> None:
    modules = imported_modules("--help", home=home_with_a_trace)
    assert "typer" in top_level(modules)
    assert top_level(modules) & {"rich", "sqlite3"} == set()
    assert not any(name.startswith("wasmcli.store") for name in modules)


def test_a_run_imports_only_what_it_uses(home_with_a_trace: Path) -> None:
    modules = imported_modules("run", "hello", "-i", "x", home=home_with_a_trace)
    assert "wasmcli.engines.wasmtime_engine" in modules  # it did run the plugin
    unneeded = {
        "pydantic",  # typer 0.29 builds a pydantic adapter per option
        "importlib.metadata",  # parses package metadata with the email parser
        "email",
        "wasmer",  # the other engine
        "wasmcli.wasm.fuel",  # wasmer's fuel instrumentation
        "wasmcli.wasm.metering",
        "wasmcli.render.timeline",  # only for --trace
        "rich.table",  # the summary line is one Text
        "wasmcli.cli.binaries_cmds",  # other commands are not built
        "wasmcli.cli.traces_cmds",
        "wasmcli.insight",  # alerts are evaluated only when the home has a rules file
    }
    assert unneeded & modules == set()


# The CI and observability formats' libraries: only the options that use them import them.
FORMAT_LIBRARIES = {"prometheus_client", "opentelemetry", "google", "junitparser"}


def modules_of_module_run(*args: str, home: Path, env: dict[str, str] | None = None) -> set[str]:
    """Every module `python -X importtime -m wasmcli ARGS` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "wasmcli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "OTEL_"))},
            "WASMCLI_HOME": str(home),
            "WASMCLI_ENGINE": "wasmtime",
            **(env or {}),
        },
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        match.group(1)
        for line in done.stderr.splitlines()
        if (match := re.match(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", line))
    }


def test_a_plain_run_imports_no_format_library(home_with_a_trace: Path) -> None:
    modules = modules_of_module_run("run", "hello", "-i", "x", home=home_with_a_trace)
    assert "wasmcli.engines.wasmtime_engine" in modules  # it did run the plugin
    assert top_level(modules) & FORMAT_LIBRARIES == set()
    assert not {m for m in modules if m.startswith(("xml", "wasmcli.integrations"))}
    assert "wasmcli.cli.run_reports" not in modules


def test_a_plain_batch_imports_no_format_library(home_with_a_trace: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"input": "a"}\n{"input": "b"}\n')
    modules = modules_of_module_run("run", "hello", "--batch", str(inputs), home=home_with_a_trace)
    assert "wasmcli.engines.wasmtime_engine" in modules  # it did run the plugin
    assert top_level(modules) & FORMAT_LIBRARIES == set()
    assert not {m for m in modules if m.startswith(("xml", "wasmcli.integrations"))}
    assert "wasmcli.cli.run_reports" not in modules


def test_a_run_in_github_actions_imports_no_format_library(home_with_a_trace: Path) -> None:
    modules = modules_of_module_run(
        "run", "hello", "-i", "x", home=home_with_a_trace, env={"GITHUB_ACTIONS": "true"}
    )
    assert "wasmcli.integrations.github" in modules  # annotations were considered
    assert top_level(modules) & FORMAT_LIBRARIES == set()
    assert not {m for m in modules if m.startswith("xml")}


def test_run_junit_imports_elementtree_and_nothing_of_otlp_or_prometheus(
    home_with_a_trace: Path, tmp_path: Path
) -> None:
    report = tmp_path / "junit.xml"
    modules = modules_of_module_run(
        "run", "hello", "-i", "x", "--junit", str(report), home=home_with_a_trace
    )
    assert report.exists()
    assert "xml.etree.ElementTree" in modules
    assert top_level(modules) & FORMAT_LIBRARIES == set()


@pytest.mark.parametrize(
    "args",
    [["traces", "list"], ["traces", "export"], ["metrics", "--help"], ["traces", "push", "--help"]],
    ids=" ".join,
)
def test_commands_that_do_not_write_a_format_do_not_import_its_library(
    args: list[str], home_with_a_trace: Path
) -> None:
    modules = modules_of_module_run(*args, home=home_with_a_trace)
    assert top_level(modules) & FORMAT_LIBRARIES == set()
