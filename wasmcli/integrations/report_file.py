"""Writing a report where the user pointed: a JUnit file, a `.prom` file for node_exporter.

Reports are read by other programs, often while wasmcli writes them (node_exporter reads
its textfile folder at every scrape; a CI step may upload a file left by the previous
one), so a report is replaced atomically: written to a temporary file in the same
folder, flushed to disk, then renamed over the old one. A reader sees the old report or
the new one, never half of one. A new file gets the mode a shell redirection would give
it (0666 less the umask), so node_exporter, running as another user, can read it; a
replaced one keeps its mode. The folder must exist.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path


def check_report_path(path: Path, option: str) -> str | None:
    """What is wrong with writing a report at `path` (a usage error's text), or None."""
    if path.is_dir():
        return f"{option} {path} is a folder: give a file name"
    if not path.parent.is_dir():
        return f"{option} {path}: the folder {path.parent} does not exist"
    return None


def write_report(path: Path, data: bytes) -> None:
    """Replace `path` atomically with `data`; OSError on failure (nothing is left
    behind)."""
    try:
        mode: int | None = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such folder", str(path.parent))
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    try:
        with os.fdopen(fd, "wb") as out:
            if mode is not None:
                os.fchmod(out.fileno(), mode)  # the umask may have removed some of its bits
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
