"""The compiled-module cache: `cache/<engine>-<version>/<key>.bin`.

A compiled artifact is native code that the engine loads without checking it: a
damaged one can crash the process, and a swapped one runs another module's code. So an
artifact is loaded only when all of these hold:
- its header names the module's SHA-256 and the engine configuration that were asked
  for (the file name is derived from them too, but a name proves nothing: a file can be
  copied over another);
- its payload matches the SHA-256 in the header (flipped or missing bytes);
- no other user could have written it: the file is a regular file (not a symlink)
  owned by this user (or root), and neither it nor its folder is writable by others.
Anything else is treated as missing (and removed when it is ours to remove): the engine
recompiles the module.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from wasmcli.store.files import PRIVATE_DIR_MODE, make_private_dir, write_atomically

MAGIC = b"WASMCLI-ARTIFACT-2\n"
_MAX_HEADER = 4096
# Bits that let someone other than the owner change a file or a folder's entries.
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


@dataclass(frozen=True)
class ArtifactHeader:
    module_sha256: str  # the WebAssembly module this was compiled from
    config: str  # engine name, version and every setting that changes the compiled code
    payload_sha256: str
    payload_bytes: int

    def encode(self) -> bytes:
        fields = {
            "module_sha256": self.module_sha256,
            "config": self.config,
            "payload_sha256": self.payload_sha256,
            "payload_bytes": self.payload_bytes,
        }
        return MAGIC + json.dumps(fields, sort_keys=True).encode("utf-8") + b"\n"


def artifact_key(module_sha256: str, config: str) -> str:
    """The file name's stem: a hash of the module's hash and the engine configuration."""
    return hashlib.sha256(f"{module_sha256}|{config}".encode()).hexdigest()


def parse_artifact(raw: bytes) -> tuple[ArtifactHeader, bytes] | None:
    """The header and payload of an artifact file, or None when it is not one."""
    if not raw.startswith(MAGIC):
        return None
    end = raw.find(b"\n", len(MAGIC), len(MAGIC) + _MAX_HEADER)
    if end < 0:
        return None
    try:
        fields = json.loads(raw[len(MAGIC) : end])
        header = ArtifactHeader(
            module_sha256=str(fields["module_sha256"]),
            config=str(fields["config"]),
            payload_sha256=str(fields["payload_sha256"]),
            payload_bytes=int(fields["payload_bytes"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
    return header, raw[end + 1 :]


def payload_intact(header: ArtifactHeader, payload: bytes) -> bool:
    return (
        len(payload) == header.payload_bytes
        and hashlib.sha256(payload).hexdigest() == header.payload_sha256
    )


def untrusted_reason(info: os.stat_result, what: str) -> str | None:
    """Why a file or folder with this status could have been written by another user."""
    if info.st_uid not in (os.geteuid(), 0):
        return f"{what} belongs to another user (uid {info.st_uid})"
    if info.st_mode & _OTHERS_WRITE:
        return f"{what} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o})"
    return None


class ArtifactCache:
    """Verified compiled artifacts of one engine version."""

    def __init__(self, home: Path, engine_tag: str) -> None:
        self.root = home / "cache" / engine_tag

    def path(self, module_sha256: str, config: str) -> Path:
        return self.root / f"{artifact_key(module_sha256, config)}.bin"

    def load(self, module_sha256: str, config: str) -> bytes | None:
        """The compiled payload of exactly this module and configuration, or None."""
        path = self.path(module_sha256, config)
        raw = self._read_trusted(path)
        if raw is None:
            return None
        parsed = parse_artifact(raw)
        if (
            parsed is None
            or parsed[0].module_sha256 != module_sha256
            or parsed[0].config != config
            or not payload_intact(*parsed)
        ):
            path.unlink(missing_ok=True)  # damaged, swapped or stale: recompiled next
            return None
        return parsed[1]

    def _read_trusted(self, path: Path) -> bytes | None:
        try:
            if untrusted_reason(os.stat(self.root), "the cache folder") is not None:
                return None
            # O_NOFOLLOW: a symlink planted in place of the file is never followed.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        with os.fdopen(fd, "rb") as file:
            info = os.fstat(file.fileno())  # of what was opened, not of the name
            if not stat.S_ISREG(info.st_mode) or untrusted_reason(info, "the artifact"):
                return None
            return file.read()

    def store(self, module_sha256: str, config: str, payload: bytes) -> None:
        """Save an artifact; a failure to write only costs a recompile next time."""
        header = ArtifactHeader(
            module_sha256=module_sha256,
            config=config,
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            payload_bytes=len(payload),
        )
        try:
            self._make_folder()
            write_atomically(self.path(module_sha256, config), header.encode() + payload)
        except OSError:
            pass

    def _make_folder(self) -> None:
        make_private_dir(self.root.parent)
        make_private_dir(self.root)
        # A cache folder that an older wasmcli made under a loose umask is tightened:
        # artifacts in it are loaded only once no one else can replace them.
        for folder in (self.root.parent, self.root):
            info = os.stat(folder)
            if info.st_uid == os.geteuid() and info.st_mode & _OTHERS_WRITE:
                os.chmod(folder, PRIVATE_DIR_MODE)
