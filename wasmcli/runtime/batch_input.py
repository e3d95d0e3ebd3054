"""The inputs of a batch: one per line of a file, as JSON objects or as plain text.

A JSON line is `{"id", "input", "input_b64", "env", "seed", "timestamp"}`, every field
optional (docs/design.md, batch mode). A line that is not such an object is that
input's usage error: it is reported in its own result and the rest of the batch runs.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from wasmcli.runtime.env import RESERVED_ENV_KEYS

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
FIELDS = ("id", "input", "input_b64", "env", "seed", "timestamp")


@dataclass(frozen=True)
class BatchInput:
    """One input of a batch, or the problem with its line (`problem` is not None)."""

    index: int  # 0-based position among the batch's inputs
    line: int  # 1-based line number in the batch file
    id: Any = None  # the line's "id", echoed in its result as given
    data: bytes = b""
    env: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    timestamp_ns: int | None = None
    problem: str | None = None


class BadLine(ValueError):
    """Why a batch line is not a usable input."""


def read_inputs(lines: Iterable[bytes], *, plain: bool = False) -> Iterator[BatchInput]:
    """The inputs of a batch file, read as they come (a pipe can feed a long batch).

    JSON lines: blank lines are skipped. Plain lines (`plain`): every line is one input,
    an empty line an empty input; the final newline ends the last line.
    """
    index = 0
    for number, raw in enumerate(lines, start=1):
        text = raw[:-1] if raw.endswith(b"\n") else raw
        if text.endswith(b"\r"):
            text = text[:-1]
        if plain:
            yield BatchInput(index, number, data=text)
        elif not text.strip():
            continue
        else:
            yield parse_json_line(text, index, number)
        index += 1


def parse_json_line(text: bytes, index: int, number: int) -> BatchInput:
    try:
        return _parse(text, index, number)
    except BadLine as problem:
        return BatchInput(index, number, id=_id_of(text), problem=f"line {number}: {problem}")


def _parse(text: bytes, index: int, number: int) -> BatchInput:
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadLine(f"not JSON ({_short(exc)})") from None
    if not isinstance(obj, dict):
        raise BadLine(f"expected a JSON object, found {_json_type(obj)}")
    unknown = [key for key in obj if key not in FIELDS]
    if unknown:
        raise BadLine(
            f"unknown field{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(key) for key in unknown)} (known: {', '.join(FIELDS)})"
        )
    ident = obj.get("id")
    if ident is not None and not isinstance(ident, (str, int, float)):
        raise BadLine(f'"id" must be a string or a number, not {_json_type(ident)}')
    return BatchInput(
        index,
        number,
        id=ident,
        data=_data(obj),
        env=_env(obj.get("env")),
        seed=_i64(obj, "seed"),
        timestamp_ns=_i64(obj, "timestamp"),
    )


def _data(obj: dict[str, Any]) -> bytes:
    text, encoded = obj.get("input"), obj.get("input_b64")
    if text is not None and encoded is not None:
        raise BadLine('"input" and "input_b64" cannot be used together')
    if encoded is not None:
        if not isinstance(encoded, str):
            raise BadLine(f'"input_b64" must be a string, not {_json_type(encoded)}')
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadLine(f'"input_b64" is not valid base64 ({exc})') from None
    if text is None:
        return b""
    if not isinstance(text, str):
        raise BadLine(f'"input" must be a string, not {_json_type(text)} (use "input_b64")')
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
        raise BadLine('"input" is not valid UTF-8 text (use "input_b64")') from None


def _env(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadLine(f'"env" must be an object, not {_json_type(value)}')
    env: dict[str, str] = {}
    for key, item in value.items():
        if key in RESERVED_ENV_KEYS:
            option = "seed" if key == "random_seed" else key
            raise BadLine(f'"env" key {key!r} is reserved: use the "{option}" field')
        if not isinstance(item, str):
            raise BadLine(f'"env" value of {key!r} must be a string, not {_json_type(item)}')
        env[key] = item
    return env


def _i64(obj: dict[str, Any], name: str) -> int | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadLine(f'"{name}" must be an integer, not {_json_type(value)}')
    if not I64_MIN <= value <= I64_MAX:
        raise BadLine(f'"{name}" must fit in a signed 64-bit integer')
    return value


def _id_of(text: bytes) -> Any:
    """The id of a bad line when it can still be read, so its result can be matched."""
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    ident = obj.get("id") if isinstance(obj, dict) else None
    return ident if isinstance(ident, (str, int, float)) else None


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 80 else text[:77] + "..."
