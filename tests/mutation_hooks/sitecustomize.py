"""Imported at the start of every Python process that `make mutate` runs (PYTHONPATH).

mutmut learns which tests call a function by recording, during a clean run, every
mutated function that each test reaches. It records only in the test process itself:
the functions that run in a process the test starts (the `wasmcli` console script, a
`python -c` snippet, the compile worker) would count as reached by no test, and mutmut
would never run those tests against their mutants. So in such a process, during that
clean run (MUTANT_UNDER_TEST=stats), the functions reached are appended at exit to the
file named by MUTMUT_SUBPROCESS_HITS, which mutate_plugin.py (a pytest plugin
in the test process) reads back after each test.
"""

import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats" and os.environ.get("MUTMUT_SUBPROCESS_HITS"):
    import atexit

    from mutmut.mutation import trampoline

    _hits: set[str] = set()

    def _record(name: str, caller: str | None = None) -> None:
        _hits.add(name)

    def _write_hits(path: str = os.environ["MUTMUT_SUBPROCESS_HITS"]) -> None:
        if _hits:
            with open(path, "a", encoding="utf-8") as file:
                file.write("".join(f"{name}\n" for name in sorted(_hits)))

    trampoline.record_trampoline_hit = _record
    atexit.register(_write_hits)
