"""Content-addressed module files: `binaries/<sha256>.wasm`, written atomically.

The registry writes and removes these files inside the database transaction that adds
or removes the rows pointing at them (see `Registry`), so a name never points at a file
that another process is removing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from wasmcli.store.db import home_error
from wasmcli.store.files import write_atomically


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.root = home / "binaries"

    def path(self, sha256: str) -> Path:
        return self.root / f"{sha256}.wasm"

    def put(self, data: bytes) -> str:
        """Store bytes under their hash (a no-op when already there); the hash."""
        digest = sha256_hex(data)
        if self.get(digest) is None:  # absent, or damaged: (re)write it
            try:
                write_atomically(self.path(digest), data)
            except OSError as exc:
                raise home_error(self.home, exc, "store the module in") from None
        return digest

    def get(self, sha256: str) -> bytes | None:
        """The bytes, or None when the file is missing or does not match its hash."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError:
            return None
        return data if sha256_hex(data) == sha256 else None

    def delete(self, sha256: str) -> None:
        try:
            self.path(sha256).unlink(missing_ok=True)
        except OSError as exc:
            raise home_error(self.home, exc, "remove the module from") from None

    def files(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from sorted(self.root.glob("*.wasm"))
