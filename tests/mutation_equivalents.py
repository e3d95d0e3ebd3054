"""Surviving mutants judged equivalent: no user could tell them from the code.

Each entry names a mutant as mutmut does, the line it changes (as `ast.unparse` writes
it: `tests/mutation_equivalence.changed_line`, which `make mutate` checks, since
mutmut's numbers shift when a function changes) and why no test can tell it apart.
`make mutate` leaves these out of a module's total; a stale entry is reported.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Equivalent:
    line: str
    why: str


EQUIVALENTS: dict[str, Equivalent] = {}
