"""The plugin return-code table (docs/design.md section 2).

This is the one table in the code; the plugin SDK headers in sample_plugins/sdk/ mirror
it and a test keeps them in sync.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReturnCode:
    code: int
    name: str
    meaning: str


RETURN_CODES: tuple[ReturnCode, ...] = (
    ReturnCode(0, "SUCCESS", "success"),
    ReturnCode(-1, "ERROR_INVALID_UTF8", "input was not valid UTF-8"),
    ReturnCode(-2, "ERROR_INVALID_INPUT", "input was well-formed but not acceptable"),
    ReturnCode(-3, "ERROR_BUFFER_OVERFLOW", "a buffer was too small"),
    ReturnCode(-4, "ERROR_MEMORY_ALLOCATION", "memory could not be allocated"),
    ReturnCode(-5, "ERROR_PARSE_ERROR", "input could not be parsed"),
    ReturnCode(-6, "ERROR_ENV_PARSING", "the env JSON could not be parsed"),
    ReturnCode(-99, "ERROR_UNKNOWN", "unspecified error"),
)

SUCCESS = 0
_BY_CODE = {rc.code: rc for rc in RETURN_CODES}


def return_code_name(code: int | None) -> str | None:
    """'SUCCESS', 'ERROR_PARSE_ERROR', ... or 'unknown code N'; None when there was no code."""
    if code is None:
        return None
    known = _BY_CODE.get(code)
    return known.name if known else f"unknown code {code}"


def return_code_meaning(code: int) -> str:
    known = _BY_CODE.get(code)
    return known.meaning if known else "not a code of the plugin ABI"
