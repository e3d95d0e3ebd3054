"""The plugin ABI's one import, `host.log(i32, i32)`.

Both engine adapters and the ABI check (runtime/abi.py) apply `import_problem`, so an
unknown or mistyped import is worded the same wherever it is found. Signatures are
`wasm.FuncType`s, whose text is the one way wasmcli writes a function type.
"""

from __future__ import annotations

from collections.abc import Iterable

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.wasm import FuncType

HOST_LOG = ("host", "log")
HOST_LOG_TYPE = FuncType(("i32", "i32"), ())


def import_problem(module: str, name: str, signature: FuncType | None) -> str | None:
    """What is wrong with one import (`signature` None for a non-function), or None."""
    if (module, name) != HOST_LOG:
        return f"import `{module}::{name}` not found (the only import wasmcli provides is host.log)"
    if signature != HOST_LOG_TYPE:
        found = "non-function" if signature is None else str(signature)
        return f"import `host::log` has type {found}, expected {HOST_LOG_TYPE}"
    return None


def check_imports(imports: Iterable[tuple[str, str, FuncType | None]]) -> None:
    """Each import as (module, name, signature or None); the first problem is raised."""
    for module, name, signature in imports:
        problem = import_problem(module, name, signature)
        if problem is not None:
            raise WasmcliError(ErrorKind.ABI, f"Failed to instantiate module: {problem}")
