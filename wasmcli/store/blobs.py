"""Content-addressed module files: `binaries/<sha256>.wasm`, written atomically."""

from __future__ import annotations

import hashlib
from pathlib import Path

from wasmcli.store.files import write_atomically


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, home: Path) -> None:
        self.root = home / "binaries"

    def path(self, sha256: str) -> Path:
        return self.root / f"{sha256}.wasm"

    def put(self, data: bytes) -> str:
        """Store bytes under their hash (a no-op when already there); the hash."""
        digest = sha256_hex(data)
        if self.get(digest) is None:  # absent, or damaged: (re)write it
            write_atomically(self.path(digest), data)
        return digest

    def get(self, sha256: str) -> bytes | None:
        """The bytes, or None when the file is missing or does not match its hash."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError:
            return None
        return data if sha256_hex(data) == sha256 else None

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
