"""The README's reference tables are checked against the code, so they cannot drift."""

from __future__ import annotations

import re

from wasmcli.config import ENV_VARS
from wasmcli.errors import EXIT_CODES
from wasmcli.return_codes import RETURN_CODES

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
DESIGN = (REPO / "docs" / "design.md").read_text(encoding="utf-8")


def table_rows(heading: str, document: str = README) -> list[list[str]]:
    """Rows of the first markdown table after a heading line, without the header row."""
    section = document.split(heading, 1)[1]
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


def test_design_document_tables_match_the_code() -> None:
    exits = table_rows("## 3. Errors and exit codes", DESIGN)
    documented = {row[1]: int(row[0]) for row in exits if row[1] not in ("—", "-", "")}
    assert documented == {kind.value: code for kind, code in EXIT_CODES.items()}
    codes = table_rows("## 2. Plugin return codes", DESIGN)
    assert [(int(r[0]), r[1], r[2]) for r in codes] == [
        (rc.code, rc.name, rc.meaning) for rc in RETURN_CODES
    ]


def test_no_file_cites_a_design_document_users_do_not_have() -> None:
    # The project's contracts live in docs/design.md; nothing may point elsewhere.
    suffixes = {".py", ".md", ".rs", ".h", ".c", ".wat", ".toml"}
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("wasmcli", "tests", "docs", "sample_plugins", "benchmarks")
        for path in (REPO / folder).rglob("*")
        if path.suffix in suffixes
        and path.name != "test_docs.py"
        and "DESIGN.md" in path.read_text(encoding="utf-8", errors="replace")
    ]
    for name in ("README.md", "CHANGELOG.md"):
        if "DESIGN.md" in (REPO / name).read_text(encoding="utf-8"):
            offenders.append(name)
    assert offenders == []
