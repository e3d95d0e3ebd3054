"""How users name traces and binaries when they ask about several runs.

A trace reference is a trace id, a unique id prefix, `last` (the newest run), `last~N`
(the N-th run before the newest), or `BINARY:last` / `BINARY:last~N` within the runs of
one binary. A binary reference is what `traces list --binary` takes: a registered name,
an id or id prefix, a path to a module file, or the name of a file run by path and never
registered.
"""

from __future__ import annotations

import re
from typing import Final

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.registry import Registry
from wasmcli.store.traces import TraceFilter, TraceStore
from wasmcli.tracing.events import ExecutionTrace

_LAST: Final = re.compile(r"last(?:~(\d{1,9}))?", re.IGNORECASE)


def binary_scope(registry: Registry, ref: str) -> tuple[str | None, str | None]:
    """(binary_id, None) for a binary the registry knows or a module file; (None, name)
    for a name that only runs of an unregistered file carry."""
    from wasmcli.store.module_files import looks_like_path

    if looks_like_path(ref):
        return registry.resolve(ref).binary_id, None
    try:
        return registry.find(ref).id, None
    except WasmcliError as exc:
        if exc.kind is ErrorKind.LOAD:
            return None, ref  # never registered: match runs of a file of that name
        raise


def resolve_trace(registry: Registry, ref: str) -> ExecutionTrace:
    """The trace `ref` names, with its events; a usage error when there is none."""
    store = TraceStore(registry.conn)
    text = ref.strip()
    binary, colon, tail = text.rpartition(":")
    last = _LAST.fullmatch(tail)
    if last is None:
        if colon:
            raise WasmcliError(
                ErrorKind.USAGE,
                f"invalid trace reference {ref!r}: after 'BINARY:' write last or last~N",
            )
        return store.get(text)
    back = int(last.group(1) or 0)
    query = TraceFilter(limit=back + 1)
    whose = "stored"
    if colon:
        if not binary:
            raise WasmcliError(ErrorKind.USAGE, f"invalid trace reference {ref!r}: no binary")
        binary_id, binary_name = binary_scope(registry, binary)
        query = TraceFilter(binary_id=binary_id, binary_name=binary_name, limit=back + 1)
        whose = f"of {binary}"
    newest = list(store.iter(query, with_events=False))
    if len(newest) <= back:
        if not newest:
            raise WasmcliError(ErrorKind.USAGE, f"no trace {ref!r}: no runs {whose}")
        found = f"{len(newest)} run{'s' if len(newest) != 1 else ''}"
        raise WasmcliError(
            ErrorKind.USAGE,
            f"no trace {ref!r}: there {'is' if len(newest) == 1 else 'are'} {found} {whose}",
        )
    return store.get(newest[back].trace_id)
