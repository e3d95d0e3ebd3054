"""Files in the home: private folders, atomic writes, and writing where a user pointed.

The home holds the registry and compiled native code, so wasmcli creates its folders
for the owner only (0700), whatever the umask; files written with `write_atomically`
are 0600. Export files are different: they are artifacts for others to
read, so `open_user_file` gives them the mode a shell redirection would.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` (0700) and any missing parents (their usual mode); an existing folder
    is left as it is. NotADirectoryError when `path` or a parent is a file."""
    if path.is_dir():
        return
    if path.exists() or path.is_symlink():
        raise NotADirectoryError(f"{path} is not a folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, PRIVATE_DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise NotADirectoryError(f"{path} is not a folder") from None
        return  # another process made it first
    # mkdir's mode is masked by the umask, which may also have removed the owner's bits.
    os.chmod(path, PRIVATE_DIR_MODE)


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file of the home (0600): a reader sees the old file or the new one, never
    half of one. Its folder is created, private to the owner, when missing."""
    make_private_dir(path.parent)
    with _replacing(path, PRIVATE_FILE_MODE) as out:
        out.write(data)


@contextmanager
def open_user_file(path: Path) -> Iterator[BinaryIO]:
    """Open an output file where the user asked, to write into what is there.

    A regular file (or a new one) is replaced atomically when the block ends without an
    error, so a reader never sees half of it; a new file gets the umask's normal mode
    (0666 & ~umask), a replaced one keeps its mode. Anything else (a FIFO, a device,
    /dev/stdout, a symlink) is opened and written to, never replaced. A missing folder is
    an error (FileNotFoundError), not created.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        # O_TRUNC is ignored by FIFOs and devices, and truncates a symlinked file.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o666)
        with os.fdopen(fd, "wb") as out:
            yield out
        return
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path.parent))
    with _replacing(path, stat.S_IMODE(info.st_mode) if info is not None else None) as out:
        yield out


@contextmanager
def _replacing(path: Path, mode: int | None) -> Iterator[BinaryIO]:
    """A temporary file next to `path`, fsynced and renamed over `path` at the end.

    `mode` None: the mode open(2) gives a new file, 0666 less the umask.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)  # the umask may have removed bits of it
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
