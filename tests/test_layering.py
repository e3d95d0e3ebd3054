"""Imports flow one way: cli -> runtime -> engines -> store/tracing -> wasm, and
cli -> insight -> store/tracing, with render beside cli. These checks read the source, so
a climbing import fails here even when it hides inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "wasmcli"
# Rooms beside cli: only cli (and, for insight, render) imports them.
ROOMS = ("wasmcli.integrations", "wasmcli.insight")
# The daemon serves the CLI's commands (the CLI hands it its root command): only cli uses
# it (its entry point, the `daemon` commands, the daemon's main), and nothing below cli.
DAEMON = "wasmcli.daemon"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        (
            "tracing",
            ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", *ROOMS, DAEMON),
        ),
        ("store", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", *ROOMS, DAEMON)),
        (
            "wasm",
            ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", *ROOMS, DAEMON),
        ),
        ("runtime", ("wasmcli.render", "wasmcli.cli", *ROOMS, DAEMON)),
        ("engines", ("wasmcli.render", "wasmcli.cli", *ROOMS, DAEMON)),
        ("render", ("wasmcli.cli", "wasmcli.integrations")),
        # Below cli: it runs the commands it is handed, and never imports them.
        ("daemon", ("wasmcli.cli", "wasmcli.render", *ROOMS, "typer", "rich")),
        # Questions about many runs read the store and traces, never run anything.
        (
            "insight",
            ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", DAEMON),
        ),
        # The formats CI and observability stacks read: the CLI imports them; they read
        # run results as JSON objects, the store and traces, and never run anything.
        (
            "integrations",
            ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", DAEMON),
        ),
    ],
)
def test_no_import_climbs_back(folder: str, forbidden: tuple[str, ...]) -> None:
    climbing = [
        f"{path.relative_to(REPO)} imports {name}"
        for path in modules_of(folder)
        for name in sorted(imported_modules(path))
        if name.startswith(forbidden)
    ]
    assert climbing == []


# The client runs before anything else: the standard library, and its own few modules.
CLIENT_SIDE = ("client", "paths", "protocol", "identity", "connect", "stale", "launch")


@pytest.mark.parametrize("name", CLIENT_SIDE)
def test_the_daemon_client_imports_only_the_standard_library(name: str) -> None:
    allowed = {
        *(f"wasmcli.daemon.{module}" for module in CLIENT_SIDE),
        "wasmcli",
        "wasmcli.daemon",
        "wasmcli.home_path",
    }
    imported = imported_modules(PACKAGE / "daemon" / f"{name}.py")
    ours = {module for module in imported if module.startswith("wasmcli")}
    assert ours <= allowed
    assert not {module.split(".")[0] for module in imported} & {
        "typer", "rich", "click", "wasmtime", "wasmer"
    }  # fmt: skip


def test_only_the_entry_point_and_the_daemon_commands_use_the_daemon() -> None:
    users = sorted(
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(PACKAGE / "daemon")
        and any(name.startswith(DAEMON) for name in imported_modules(path))
    )
    assert users == [
        "wasmcli/cli/__init__.py",
        "wasmcli/cli/daemon_cmds.py",
        "wasmcli/cli/daemon_host.py",
        "wasmcli/render/daemon.py",
    ]
