"""Which surviving mutants are equivalent: no user could tell them from the code.

A mutation score counts killed mutants against the mutants that *could* be killed, so
`make mutate` takes out of its total:
- mutants that only change the letter case of SQL (SQLite reads keywords, table and
  column names without regard to case), or of the key of a row read from SQLite
  (`sqlite3.Row` looks keys up without regard to case; in `wasmcli/store` such rows are
  always named `row` or `r`): recognised here, from the mutant's source;
- mutants judged equivalent by a person, listed in `tests/mutation_equivalents.py` with
  the line each one changes and why it cannot be told apart. A listed mutant whose
  line no longer matches (the code moved, and mutmut's numbers with it) is not taken
  out: it is reported as a stale entry, to be judged again.
"""

from __future__ import annotations

import ast
import copy
import difflib
import re
from functools import cache
from pathlib import Path

from tests.mutation_equivalents import EQUIVALENTS

# A string that starts like a statement or a clause of one is SQL.
_SQL_START = re.compile(
    r"\s*(select|insert|update|delete|create|alter|drop|begin|commit|rollback|pragma|with"
    r"|where|from|order|group|and|or|values|set|end|limit|on|join|left)\b",
    re.IGNORECASE,
)
# ... or holds a placeholder compared with something: a clause of one.
_SQL_CLAUSE = re.compile(r"\w\s*(=|>=|<=|<|>|!=)\s*\?")
_QUOTED = re.compile(r"('(?:[^']|'')*')")  # SQL string literals keep their case
_ROW_NAMES = {"row", "r"}  # sqlite3.Row objects, in wasmcli/store


def _fold_sql(text: str) -> str:
    if not (_SQL_START.match(text) or _SQL_CLAUSE.search(text)):
        return text
    return "".join(p if p.startswith("'") else p.lower() for p in _QUOTED.split(text))


class _FoldSql(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, str):
            return ast.copy_location(ast.Constant(_fold_sql(node.value)), node)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        key = node.slice
        if (
            isinstance(node.value, ast.Name)
            and node.value.id in _ROW_NAMES
            and isinstance(key, ast.Constant)
            and isinstance(key.value, str)
        ):
            node.slice = ast.copy_location(ast.Constant(key.value.lower()), key)
            return node
        return self.generic_visit(node)


@cache
def _functions(mutants_file: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(mutants_file.read_text())
    return {
        node.name: node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and "__mutmut_" in node.name
    }


def _anonymous(function: ast.FunctionDef) -> ast.FunctionDef:
    node = copy.deepcopy(function)
    node.name = "f"
    return node


def _original_and_mutant(
    mutants_file: Path, name: str
) -> tuple[ast.FunctionDef, ast.FunctionDef] | None:
    """The source of the function the mutant `name` (mutmut's key) changes, as written
    and as mutated, both under one name; None when either is not found."""
    functions = _functions(mutants_file)
    short = name.rsplit(".", 1)[-1]
    original = functions.get(re.sub(r"__mutmut_\d+$", "__mutmut_orig", short))
    mutant = functions.get(short)
    if original is None or mutant is None:
        return None
    return _anonymous(original), _anonymous(mutant)


def changed_line(mutants_file: Path, name: str) -> str | None:
    """The line(s) the mutant `name` (mutmut's key) changes, as `ast.unparse` writes
    them, joined by " / "; None when its source is not found."""
    pair = _original_and_mutant(mutants_file, name)
    if pair is None:
        return None
    before, after = (ast.unparse(function).splitlines() for function in pair)
    added = [
        line[1:].strip()
        for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line.startswith("+") and not line.startswith("+++")
    ]
    return " / ".join(added)


def only_sql_case(mutants_file: Path, name: str) -> bool:
    """The mutant changes nothing but the letter case of SQL outside its literals, or of
    a row's key (store modules only)."""
    if "wasmcli/store/" not in mutants_file.as_posix():
        return False
    pair = _original_and_mutant(mutants_file, name)
    if pair is None:
        return False
    a, b = pair
    if ast.dump(a) == ast.dump(b):
        return False
    return ast.dump(_FoldSql().visit(a)) == ast.dump(_FoldSql().visit(b))


def judged(mutants_file: Path, name: str) -> tuple[str | None, str | None]:
    """(why it is equivalent, None) for a listed mutant whose line still matches;
    (None, a note) for a listed one that no longer does; (None, None) otherwise."""
    entry = EQUIVALENTS.get(name)
    if entry is None:
        return None, None
    line = changed_line(mutants_file, name)
    if line != entry.line:
        return None, f"{name}: listed as equivalent for `{entry.line}`, now changes `{line}`"
    return entry.why, None
