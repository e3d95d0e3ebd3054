"""The only import a plugin may have is `host.log(i32, i32)`; anything else is an ABI error."""

from __future__ import annotations

from collections.abc import Iterable

from wasmcli.errors import ErrorKind, WasmcliError

HOST_LOG_SIGNATURE = "(i32, i32) -> ()"


def check_imports(imports: Iterable[tuple[str, str, str | None]]) -> None:
    """Each import as (module, name, signature or None for non-functions)."""
    for module, name, signature in imports:
        if (module, name) != ("host", "log"):
            raise WasmcliError(
                ErrorKind.ABI, f"Failed to instantiate module: import `{module}::{name}` not found"
            )
        if signature != HOST_LOG_SIGNATURE:
            raise WasmcliError(
                ErrorKind.ABI,
                "Failed to instantiate module: import `host::log` has type "
                f"{signature or 'non-function'}, expected {HOST_LOG_SIGNATURE}",
            )
