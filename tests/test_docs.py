"""The README's reference tables are checked against the code, so they cannot drift."""

from __future__ import annotations

import re

from wasmcli.config import ENV_VARS
from wasmcli.errors import EXIT_CODES
from wasmcli.return_codes import RETURN_CODES

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def table_rows(heading: str) -> list[list[str]]:
    """Rows of the first markdown table after a heading line, without the header row."""
    section = README.split(heading, 1)[1]
    lines = [line.strip() for line in section.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_exit_code_table_matches_the_code() -> None:
    rows = table_rows("## Exit codes")
    documented = {row[1]: int(row[0]) for row in rows if row[1] not in ("—", "-", "")}
    assert documented == {kind.value: code for kind, code in EXIT_CODES.items()}
    assert any(row[0] == "0" for row in rows)


def test_return_code_table_matches_the_code() -> None:
    rows = table_rows("## Plugin return codes")
    assert [(int(row[0]), row[1]) for row in rows] == [(rc.code, rc.name) for rc in RETURN_CODES]


def test_env_var_table_matches_the_code() -> None:
    rows = table_rows("## Environment variables")
    assert [row[0] for row in rows] == list(ENV_VARS)


def test_readme_shows_the_two_setup_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("##", 1)[0]
    assert re.search(r"^make demo$", setup, re.M) and re.search(r"^make test$", setup, re.M)
