"""Which daemon may serve which client: the same wasmcli, on the same Python environment.

A daemon serves a request only when the client's identity equals its own: the wasmcli
version and package folder, the interpreter (sys.executable, sys.prefix, its version),
the import path, and the encodings Python chose at start-up (they decide how argv, file
names and files without an explicit encoding are read). Anything else runs in-process.
"""

import _locale
import os
import sys

import wasmcli


def identity_lines() -> list[tuple[str, str]]:
    # sys.path[0] is where the program started from (the console script's folder, or the
    # daemon's own); the rest is the environment's.
    path = sys.path if getattr(sys.flags, "safe_path", False) else sys.path[1:]
    locale_encoding = "utf-8" if sys.flags.utf8_mode else _locale.nl_langinfo(_locale.CODESET)
    return [
        ("wasmcli", wasmcli.__version__),
        ("package", os.path.dirname(os.path.abspath(wasmcli.__file__))),
        ("executable", sys.executable),
        ("prefix", sys.prefix),
        ("python", " ".join(sys.version.split())),
        ("import path", os.pathsep.join(path)),
        ("encodings", f"filesystem {sys.getfilesystemencoding()}, locale {locale_encoding}"),
    ]


_IDENTITY: list[bytes] = []


def identity() -> bytes:
    """This process's identity, as it was at its first call: the daemon takes it before
    it drops its own start folder from sys.path (server.py)."""
    if not _IDENTITY:
        text = "\n".join(f"{key}: {value}" for key, value in identity_lines())
        _IDENTITY.append(text.encode("utf-8", "surrogateescape"))
    return _IDENTITY[0]


def difference(theirs: bytes) -> str:
    """How a daemon's identity differs from this process's, in a few words."""
    mine: dict[str, str] = {}
    for line in identity().decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(": ")
        mine[key] = value
    other: dict[str, str] = {}
    for line in theirs.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(": ")
        other[key] = value
    for key, value in mine.items():
        if other.get(key) != value:
            return f"its {key} is {other.get(key, 'unknown')!s}, this one's is {value}"
    return "it runs another wasmcli"
