"""An engine package's installed version, read once per process.

The version is part of every compiled-artifact cache key, so every run needs it.
`importlib.metadata` would import the email parser and parse the package's METADATA on
each call (tens of ms per `wasmcli run`); the installed `<name>-<version>.dist-info`
folder next to the package says the same for one directory listing. Where that folder
is missing or ambiguous (an unusual install), importlib.metadata answers.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path


@cache
def installed_version(distribution: str, package_file: str) -> str:
    """The version of `distribution`, whose package's `__init__.py` is `package_file`."""
    prefix = distribution.replace("-", "_").lower() + "-"
    site = Path(package_file).resolve().parent.parent
    try:
        found = [
            name[len(prefix) : -len(".dist-info")]
            for name in os.listdir(site)
            if name.lower().startswith(prefix) and name.endswith(".dist-info")
        ]
    except OSError:
        found = []
    if len(found) == 1:
        return found[0]
    from importlib.metadata import version

    return version(distribution)
