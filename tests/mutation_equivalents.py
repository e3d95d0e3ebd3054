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


_ROW_KEYS = "sqlite3.Row looks its keys up without regard to case"

EQUIVALENTS: dict[str, Equivalent] = {
    # -- cli/errors
    "wasmcli.cli.errors.x_is_closed_pipe__mutmut_1": Equivalent(
        "return isinstance(exc, BrokenPipeError) and (isinstance(exc, OSError) and "
        "exc.errno == errno.EPIPE)",
        "Python raises every EPIPE as a BrokenPipeError, with that errno: `or` and `and` "
        "agree on every error the OS reports",
    ),
    "wasmcli.cli.errors.x_usage_message__mutmut_8": Equivalent(
        "if text[1:3].islower():",
        "click's messages have lower-case second and third letters alike ('No such "
        "option', 'Missing argument', 'Got unexpected ...')",
    ),
    # -- store/registry
    "wasmcli.store.registry.xǁRegistryǁremove__mutmut_13": Equivalent(
        "record = self.get(by_name['binary_id']) if by_name and False else self.find(ref)",
        "`find` looks the name up first, with the same query, and finds the same binary",
    ),
    "wasmcli.store.registry.xǁRegistryǁfind__mutmut_16": Equivalent(
        "exact = None",
        "without the exact lookup, the prefix search finds a full id (all ids have one "
        "length, so a full id is the prefix of no other): only the query differs",
    ),
    "wasmcli.store.registry.xǁRegistryǁfind__mutmut_52": Equivalent(
        "if len(rows) >= 1:",
        "just after `if len(rows) == 1: return`, so `>= 1` and `> 1` agree",
    ),
}
