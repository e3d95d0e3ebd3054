"""Reading TOML: the standard library's tomllib from Python 3.11, the tomli package (the
same parser, its origin) on 3.10."""

from __future__ import annotations

import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib as toml
else:  # pragma: no cover - Python 3.10
    import tomli as toml

TOMLDecodeError = toml.TOMLDecodeError


def parse_toml(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = toml.loads(text)
    return parsed
