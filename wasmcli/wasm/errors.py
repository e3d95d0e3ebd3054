"""The two exceptions of the wasm toolkit.

Both derive from ValueError so a caller that only wants "the bytes were not acceptable"
can catch one type; the CLI maps them to its own error kinds (load / memory_limit).
"""

from __future__ import annotations


class WasmFormatError(ValueError):
    """A malformed or unsupported module; the message is one line a user can act on."""


class ResourcesAboveLimit(ValueError):
    """A module's memories and tables take more than the limit at instantiation."""

    def __init__(self, initial_bytes: int, limit_bytes: int) -> None:
        super().__init__(
            f"memories and tables start at {initial_bytes} bytes, above the limit of "
            f"{limit_bytes} bytes"
        )
        self.initial_bytes = initial_bytes
        self.limit_bytes = limit_bytes
