"""Imports flow one way: cli -> runtime -> engines -> store/tracing -> wasm, and
cli -> insight -> store/tracing, with render beside cli. These checks read the source, so
a climbing import fails here even when it hides inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import REPO

PACKAGE = REPO / "wasmcli"


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
            (
                "wasmcli.render",
                "wasmcli.cli",
                "wasmcli.runtime",
                "wasmcli.engines",
                "wasmcli.insight",
            ),
        ),
        ("store", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.insight")),
        (
            "wasm",
            (
                "wasmcli.render",
                "wasmcli.cli",
                "wasmcli.runtime",
                "wasmcli.engines",
                "wasmcli.insight",
            ),
        ),
        ("runtime", ("wasmcli.render", "wasmcli.cli", "wasmcli.insight")),
        ("engines", ("wasmcli.render", "wasmcli.cli", "wasmcli.insight")),
        # Questions about many runs read the store and traces, never run anything.
        ("insight", ("wasmcli.render", "wasmcli.cli", "wasmcli.runtime", "wasmcli.engines")),
        ("render", ("wasmcli.cli",)),
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
