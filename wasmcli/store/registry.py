"""The binary registry: modules by content hash, their names, and reference resolution.

A binary's id is a UUID derived from its SHA-256 (uuid5), so registering the same bytes
again returns the same id, and a run of an unregistered file carries the id it would
have if registered: `traces list --binary` finds both.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.safe_text import fs_text
from wasmcli.store.blobs import BlobStore, sha256_hex
from wasmcli.store.cache import ArtifactCache
from wasmcli.store.db import DOCTOR_HINT, Transaction, open_database
from wasmcli.store.ids import (
    MIN_ID_PREFIX,
    candidates_text,
    is_id_text,
    prefix_range,
    too_short_hint,
)
from wasmcli.store.module_files import WASM_MAGIC, looks_like_path, read_module_file
from wasmcli.tracing.events import format_utc, parse_utc

# Fixed namespace for binary ids; changing it would change every id users have seen.
BINARY_ID_NAMESPACE = uuid.UUID("6f1c2d3e-8a4b-5c6d-9e0f-a1b2c3d4e5f6")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def binary_id_for(sha256: str) -> str:
    return str(uuid.uuid5(BINARY_ID_NAMESPACE, sha256))


def not_found(ref: str, hint: str = "") -> WasmcliError:
    return WasmcliError(ErrorKind.LOAD, f"Failed to get binary: Binary not found: {ref}{hint}")


@dataclass(frozen=True)
class BinaryRecord:
    id: str
    sha256: str
    size_bytes: int
    names: tuple[str, ...]
    registered_at: datetime
    source_path: str | None

    @property
    def name(self) -> str | None:
        return self.names[0] if self.names else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "names": list(self.names),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "registered_at": format_utc(self.registered_at),
            "source_path": self.source_path,
        }


@dataclass(frozen=True)
class ResolvedBinary:
    """A module ready to run: its bytes and how the user referred to it."""

    binary_id: str
    name: str | None
    sha256: str
    wasm: bytes
    source: str  # "registry" or "path"
    record: BinaryRecord | None = None


@dataclass(frozen=True)
class RegisterOutcome:
    record: BinaryRecord
    created: bool  # the bytes were new to the registry
    name: str | None  # the name asked for (None: none)
    name_added: bool  # the name was not this binary's before
    name_moved_from: str | None  # with force: the binary id the name pointed at before


@dataclass(frozen=True)
class RemoveOutcome:
    record: BinaryRecord  # the binary as it was before the removal
    names_removed: tuple[str, ...]
    binary_removed: bool  # False: only a name went, the binary keeps its other names

    @property
    def names_left(self) -> tuple[str, ...]:
        return tuple(n for n in self.record.names if n not in self.names_removed)


class Registry:
    """Registered binaries in `home`: rows in wasmcli.db, bytes in binaries/<sha256>.wasm.

    A module file is written and removed inside the transaction that adds or removes the
    rows pointing at it. The transaction holds SQLite's write lock from its start, so a
    `remove` and a `register` of the same bytes never interleave: a name never points at
    a file that was just deleted.
    """

    def __init__(self, home: Path | str | None = None) -> None:
        from wasmcli.config import resolve_home

        self.home = resolve_home(home)
        self.blobs = BlobStore(self.home)
        self._conn: sqlite3.Connection | None = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_database(self.home)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def artifact_cache(self, engine_tag: str) -> ArtifactCache:
        return ArtifactCache(self.home, engine_tag)

    # -- registering ----------------------------------------------------------------

    def register(
        self,
        wasm: bytes,
        name: str | None = None,
        source_path: str | None = None,
        force: bool = False,
    ) -> RegisterOutcome:
        """Store a module and point `name` at it.

        The bytes are stored as given: `wasmcli.runtime.registration.register_module`
        validates a module with an engine and the ABI check first, and is what the CLI
        and library users call. A name that another binary holds moves only with
        `force`; without it, a usage error names the holder and nothing is stored.
        """
        if not wasm.startswith(WASM_MAGIC):
            raise WasmcliError(ErrorKind.LOAD, "not a WebAssembly module (bad magic bytes)")
        if name is not None:
            check_name(name)
        digest = sha256_hex(wasm)
        binary_id = binary_id_for(digest)
        now = format_utc(datetime.now(timezone.utc))
        with Transaction(self.conn) as conn:
            holder = None
            if name is not None:
                row = conn.execute(
                    "SELECT binary_id FROM binary_names WHERE name = ?", (name,)
                ).fetchone()
                holder = row["binary_id"] if row else None
                if holder not in (None, binary_id) and not force:
                    raise _name_taken(name, self.get(holder))
            self.blobs.put(wasm)  # the file first: a row never points at nothing
            created = (
                conn.execute("SELECT 1 FROM binaries WHERE id = ?", (binary_id,)).fetchone() is None
            )
            if created:
                conn.execute(
                    "INSERT INTO binaries (id, sha256, size_bytes, source_path, registered_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (binary_id, digest, len(wasm), source_path, now),
                )
            if name is not None and holder is None:
                conn.execute(
                    "INSERT INTO binary_names (name, binary_id, named_at) VALUES (?, ?, ?)",
                    (name, binary_id, now),
                )
            elif name is not None and holder != binary_id:
                conn.execute(
                    "UPDATE binary_names SET binary_id = ?, named_at = ? WHERE name = ?",
                    (binary_id, now, name),
                )
            # Read inside the transaction: a `remove` in another process may delete the
            # binary as soon as this commits.
            record = self.get(binary_id)
        return RegisterOutcome(
            record=record,
            created=created,
            name=name,
            name_added=name is not None and holder != binary_id,
            name_moved_from=holder if holder not in (None, binary_id) else None,
        )

    # -- reading --------------------------------------------------------------------

    def get(self, binary_id: str) -> BinaryRecord:
        row = self.conn.execute("SELECT * FROM binaries WHERE id = ?", (binary_id,)).fetchone()
        if row is None:
            raise not_found(binary_id)
        return self._record(row)

    def list(self) -> list[BinaryRecord]:
        rows = self.conn.execute("SELECT * FROM binaries ORDER BY registered_at DESC, id")
        return [self._record(row) for row in rows.fetchall()]

    def find(self, ref: str) -> BinaryRecord:
        """A registered binary by name, full id or unique id prefix (MIN_ID_PREFIX+)."""
        ref = ref.strip()
        row = self.conn.execute(
            "SELECT binary_id FROM binary_names WHERE name = ?", (ref,)
        ).fetchone()
        if row is not None:
            return self.get(row["binary_id"])
        ref_id = ref.lower()
        exact = self.conn.execute("SELECT * FROM binaries WHERE id = ?", (ref_id,)).fetchone()
        if exact is not None:
            return self._record(exact)
        if is_id_text(ref_id) and len(ref_id) >= MIN_ID_PREFIX:
            where = " WHERE id >= ? AND id < ?"
            bounds = prefix_range(ref_id)
            rows = self.conn.execute(
                "SELECT * FROM binaries" + where + " ORDER BY id LIMIT 5", bounds
            ).fetchall()
            if len(rows) == 1:
                return self._record(rows[0])
            if len(rows) > 1:
                total = self.conn.execute(
                    "SELECT count(*) FROM binaries" + where, bounds
                ).fetchone()[0]
                labels = [_label(self._record(r)) for r in rows]
                raise WasmcliError(
                    ErrorKind.USAGE,
                    f"Ambiguous binary id prefix {ref!r}: matches "
                    f"{candidates_text(labels, total)}; type more of the id",
                )
        raise not_found(ref, too_short_hint(ref_id))

    def resolve(self, ref: str) -> ResolvedBinary:
        """A path to a .wasm/.wat file, a registered name, a full id, or a unique id prefix."""
        if looks_like_path(ref):
            return self._resolve_path(Path(ref))
        try:
            record = self.find(ref)
        except WasmcliError as exc:
            # An extension-less file in the current folder still runs, but a name wins.
            if exc.kind is ErrorKind.LOAD and Path(ref).is_file():
                return self._resolve_path(Path(ref))
            raise
        return ResolvedBinary(
            binary_id=record.id,
            name=record.name,
            sha256=record.sha256,
            wasm=self.read_wasm(record),
            source="registry",
            record=record,
        )

    def _resolve_path(self, path: Path) -> ResolvedBinary:
        wasm = read_module_file(path)
        digest = sha256_hex(wasm)
        binary_id = binary_id_for(digest)
        name = self._name_of(binary_id) or fs_text(path.stem)
        return ResolvedBinary(binary_id, name, digest, wasm, "path")

    def _name_of(self, binary_id: str) -> str | None:
        # A path run shows the registered name of the same bytes, when there is one; a
        # home that cannot be opened must not stop a plain file from running.
        try:
            row = self.conn.execute(
                "SELECT name FROM binary_names WHERE binary_id = ? ORDER BY named_at, name",
                (binary_id,),
            ).fetchone()
        except WasmcliError:
            return None
        return row["name"] if row else None

    def read_wasm(self, record: BinaryRecord) -> bytes:
        data = self.blobs.get(record.sha256)
        if data is None:
            raise WasmcliError(
                ErrorKind.LOAD,
                f"Failed to get binary: the stored file of {record.name or record.id} is "
                f"missing or damaged ({self.blobs.path(record.sha256)}); register it again",
            )
        return data

    # -- removing -------------------------------------------------------------------

    def remove(self, ref: str, all_names: bool = False) -> RemoveOutcome:
        """Remove a name, or a binary with its names and its file; its traces stay.

        A name removes only that name while the binary has others (unless `all_names`);
        the binary goes with its last name, or when `ref` is its id or an id prefix.
        """
        ref = ref.strip()
        with Transaction(self.conn) as conn:
            by_name = conn.execute(
                "SELECT binary_id FROM binary_names WHERE name = ?", (ref,)
            ).fetchone()
            record = self.get(by_name["binary_id"]) if by_name else self.find(ref)
            if by_name and not all_names and len(record.names) > 1:
                conn.execute("DELETE FROM binary_names WHERE name = ?", (ref,))
                return RemoveOutcome(record, (ref,), binary_removed=False)
            conn.execute("DELETE FROM binary_names WHERE binary_id = ?", (record.id,))
            conn.execute("DELETE FROM binaries WHERE id = ?", (record.id,))
            # Still inside the write lock: a register of the same bytes waits for the
            # commit, then finds no row and writes the file again.
            self.blobs.delete(record.sha256)
        return RemoveOutcome(record, record.names, binary_removed=True)

    def _record(self, row: sqlite3.Row) -> BinaryRecord:
        names = tuple(
            r["name"]
            for r in self.conn.execute(
                "SELECT name FROM binary_names WHERE binary_id = ? ORDER BY named_at, name",
                (row["id"],),
            )
        )
        try:
            return BinaryRecord(
                id=row["id"],
                sha256=row["sha256"],
                size_bytes=int(row["size_bytes"]),
                names=names,
                registered_at=parse_utc(row["registered_at"]),
                source_path=row["source_path"],
            )
        except (ValueError, TypeError, AttributeError) as exc:
            raise WasmcliError(
                ErrorKind.IO,
                f"the registry entry of binary {row['id']!s} is damaged ({exc}); {DOCTOR_HINT}",
            ) from None


def _label(record: BinaryRecord) -> str:
    return f"{record.id[:8]} ({', '.join(record.names) or 'no name'})"


def _name_taken(name: str, holder: BinaryRecord) -> WasmcliError:
    return WasmcliError(
        ErrorKind.USAGE,
        f"the name {name!r} belongs to binary {_label(holder)}: use --force to move it to "
        "this one, or --name to choose another",
    )


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name) or name.lower().endswith((".wasm", ".wat", ".wast")):
        raise WasmcliError(
            ErrorKind.USAGE,
            f"invalid name {name!r}: use letters, digits, '.', '_' or '-' (at most 64), "
            "starting with a letter or digit, without a .wasm/.wat suffix",
        )


def derive_name(stem: str) -> str | None:
    """A valid name from a file's stem ('my boom plugin' -> 'my-boom-plugin'), or None."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)
    name = re.sub(r"^[^A-Za-z0-9]+", "", name)[:64].rstrip("-")
    return name if NAME_PATTERN.match(name) else None
