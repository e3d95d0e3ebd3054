"""A request's standard streams, made the way Python makes them at start-up.

The daemon's process takes the client's stdin, stdout and stderr as file descriptors
0, 1 and 2, and wraps them as CPython's `create_stdio` would have in the client: buffered
(unless the client ran unbuffered, `-u` or PYTHONUNBUFFERED), line-buffered on a
terminal and always for stderr, newline "\\n", with the client's encodings and error
handlers. So what a command writes comes out in the same bytes and the same chunks.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any, TextIO

_NAMES = ("<stdin>", "<stdout>", "<stderr>")


def adopt_streams(fds: list[int], encodings: list[tuple[str, str]], unbuffered: bool) -> None:
    """Make `fds` this process's 0, 1 and 2, and sys.stdin/stdout/stderr (and their
    `__std*__` originals) streams over them."""
    for target, fd in enumerate(fds):
        if fd != target:
            os.dup2(fd, target)
            os.close(fd)
    streams = [
        _stream(fd, encoding, errors, unbuffered) for fd, (encoding, errors) in enumerate(encodings)
    ]
    sys.stdin, sys.stdout, sys.stderr = streams
    # rich and click read the originals for the terminal's size.
    setattr(sys, "__stdin__", streams[0])  # noqa: B010 - typeshed declares them final
    setattr(sys, "__stdout__", streams[1])  # noqa: B010
    setattr(sys, "__stderr__", streams[2])  # noqa: B010


def _stream(fd: int, encoding: str, errors: str, unbuffered: bool) -> TextIO:
    writing = fd != 0
    mode = "w" if writing else "r"
    # stdin is always buffered: TextIOWrapper needs read1(), which only buffers have.
    buffered = not (unbuffered and writing)
    binary: Any = open(fd, mode + "b", buffering=-1 if buffered else 0, closefd=False)
    raw = binary.raw if buffered else binary
    raw.name = _NAMES[fd]
    line_buffering = buffered and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(
        binary,
        encoding=encoding,
        errors=errors,
        newline="\n",
        line_buffering=line_buffering,
        write_through=not buffered,
    )
    stream.mode = mode  # type: ignore[misc]
    return stream


def silence_streams() -> None:
    """Point 0, 1 and 2 at /dev/null (a warm-up's output, or a client that went away)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
