"""The compiled-module cache: `cache/<engine>-<version>/<key>.bin`.

A compiled artifact is native code that the engine loads without checking it, and a
truncated one can crash the process. So every file starts with a header holding the
SHA-256 of its payload; a file whose payload does not match is deleted and treated as
missing, and the caller recompiles.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from wasmcli.store.files import write_atomically

_MAGIC = b"WASMCLI-ARTIFACT-1 "
_HEADER_LEN = len(_MAGIC) + 64 + 1  # magic, hex digest, newline


class ArtifactCache:
    """Checksum-verified compiled artifacts of one engine version."""

    def __init__(self, home: Path, engine_tag: str) -> None:
        self.root = home / "cache" / engine_tag

    def _path(self, key: str) -> Path:
        return self.root / f"{key}.bin"

    def load(self, key: str) -> bytes | None:
        """The artifact for `key`, or None when absent or damaged (a damaged one is removed)."""
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        payload = raw[_HEADER_LEN:]
        header_ok = raw.startswith(_MAGIC) and raw[_HEADER_LEN - 1 : _HEADER_LEN] == b"\n"
        digest = raw[len(_MAGIC) : _HEADER_LEN - 1].decode("ascii", "replace")
        if not header_ok or hashlib.sha256(payload).hexdigest() != digest:
            path.unlink(missing_ok=True)
            return None
        return payload

    def store(self, key: str, payload: bytes) -> None:
        """Save an artifact; a failure to write only costs a recompile next time."""
        header = _MAGIC + hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n"
        try:
            write_atomically(self._path(key), header + payload)
        except OSError:
            pass

    def clear(self) -> int:
        """Remove every artifact of this engine version; how many were removed."""
        removed = 0
        if self.root.is_dir():
            for path in self.root.glob("*.bin"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def cache_key(wasm_sha256: str, *config_parts: object) -> str:
    """A key from the module's hash and everything that changes the compiled code."""
    material = "|".join([wasm_sha256, *(str(part) for part in config_parts)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
