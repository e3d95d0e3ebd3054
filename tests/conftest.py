"""Shared fixtures: every test gets its own wasmcli home and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .daemon_tools import daemon, daemon_home  # noqa: F401 - fixtures of the daemon tests

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_plugins"


@pytest.fixture(autouse=True)
def wasmcli_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point WASMCLI_HOME at a fresh folder and clear every other WASMCLI_* variable."""
    for name in list(os.environ):
        if name.startswith("WASMCLI_"):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("WASMCLI_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    yield home


@pytest.fixture
def wat_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a WAT module as a compiled .wasm file; returns its path."""

    def make(source: str, name: str = "plugin") -> Path:
        from wasmcli.wasm.wat import wat_to_wasm

        path = tmp_path / f"{name}.wasm"
        path.write_bytes(wat_to_wasm(source))
        return path

    return make


# A minimal plugin following the ABI: logs its input back, returns 0.
ECHO_WAT = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (call $log (local.get 0) (local.get 1))
    (i32.const 0)))
"""


def plugin_wat(body: str, *, memory: str = '(memory (export "memory") 1)', extra: str = "") -> str:
    """A plugin module whose `process` body is `body` (params $in $in_len $env $env_len)."""
    return f"""
(module
  (import "host" "log" (func $log (param i32 i32)))
  {memory}
  {extra}
  (func (export "process") (param $in i32) (param $in_len i32) (param $env i32)
                           (param $env_len i32) (result i32)
    {body}))
"""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that runs plugins (through `cli` or `engine`) runs once per engine that
    # works on this Python: the conformance suite is the same for both.
    if "engine" in metafunc.fixturenames:
        from wasmcli.engines import available_engines

        metafunc.parametrize("engine", available_engines(), indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine this test runs on (WASMCLI_ENGINE is set to it)."""
    name: str = request.param
    monkeypatch.setenv("WASMCLI_ENGINE", name)
    return name


@pytest.fixture
def cli(engine: str, any_engine_cli: Callable[..., CliResult]) -> Callable[..., CliResult]:
    """Invoke wasmcli in-process on the test's engine: cli("run", "x.wasm", input=b"...")."""
    return any_engine_cli


@pytest.fixture
def any_engine_cli() -> Callable[..., CliResult]:
    """Invoke wasmcli in-process with whatever engine WASMCLI_ENGINE names."""
    from typer.testing import CliRunner

    from wasmcli.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: bytes | str | None = None) -> CliResult:
        result = runner.invoke(app, list(args), input=input)
        return CliResult(result.exit_code, result.stdout, result.stderr, result.exception)

    return invoke


class CliResult:
    def __init__(self, exit_code: int, stdout: str, stderr: str, exception: object) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        self.exception = exception

    def json(self) -> object:
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"CliResult(exit={self.exit_code}, stdout={self.stdout!r}, stderr={self.stderr!r})"
