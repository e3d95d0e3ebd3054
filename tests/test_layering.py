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
            ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", *ROOMS),
        ),
        ("store", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", *ROOMS)),
        ("wasm", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines", *ROOMS)),
        ("runtime", ("wasmcli.render", "wasmcli.cli", *ROOMS)),
        ("engines", ("wasmcli.render", "wasmcli.cli", *ROOMS)),
        ("render", ("wasmcli.cli", "wasmcli.integrations")),
        # Questions about many runs read the store and traces, never run anything.
        ("insight", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines")),
        # The formats CI and observability stacks read: the CLI imports them; they read
        # run results as JSON objects, the store and traces, and never run anything.
        ("integrations", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines")),
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
