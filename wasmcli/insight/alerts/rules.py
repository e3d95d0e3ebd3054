"""Alert rules: one `[[alert]]` table each in a TOML file.

    [[alert]]
    name = "traps"                        # required, unique
    binary = "hello"                      # filters, all optional
    error_kind = "trap"
    return_code = "ERROR_PARSE_ERROR"     # or -5
    message = "divide by (zero|nil)"      # a regular expression, searched in the error
    min_fuel = 1_000_000
    min_duration_ms = 250
    condition = "count >= 2 within 1h"    # or "failure_rate >= 10% over last 50 runs"

A rule's *matching runs* are the runs of its binary (every binary when none is given)
that pass all of its other filters; a rule with none of them matches the failed runs.
`count >= N within DURATION` fires while N or more matching runs started within the last
DURATION; `failure_rate >= P% over last N runs` fires while at least P% of the binary's
last N runs (or all of them, when fewer are stored) match. Without a condition a rule
is `count >= 1 within 1h`.

Every problem in the file is a usage error that names the file, the line and what is
wrong, so a typo never silently disables an alert.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Final

from wasmcli.config import ALERT_RULES_FILENAME
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.return_codes import RETURN_CODES

DEFAULT_CONDITION: Final = "count >= 1 within 1h"

FILTER_KEYS: Final = (
    "binary",
    "error_kind",
    "return_code",
    "message",
    "min_fuel",
    "min_duration_ms",
)
# The filters that say which runs count (the binary says which runs are considered).
MATCH_KEYS: Final = FILTER_KEYS[1:]
RULE_KEYS: Final = ("name", *FILTER_KEYS, "condition")

_UNITS: Final = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_COUNT: Final = re.compile(r"count\s*>=\s*(\d+)\s+within\s+(\d+)\s*([a-z]+)", re.IGNORECASE)
_RATE: Final = re.compile(
    r"failure_rate\s*>=\s*(\d+(?:\.\d+)?)\s*%\s+over\s+(?:the\s+)?last\s+(\d+)\s+runs?",
    re.IGNORECASE,
)
CONDITION_FORMS: Final = '"count >= N within DURATION" or "failure_rate >= P% over last N runs"'
MAX_WINDOW: Final = timedelta(days=3650)


@dataclass(frozen=True)
class CountCondition:
    """Fires while `threshold` or more matching runs started within `window`."""

    threshold: int
    window: timedelta
    text: str


@dataclass(frozen=True)
class RateCondition:
    """Fires while at least `percent`% of the last `runs` runs considered match."""

    percent: float
    runs: int
    text: str


Condition = CountCondition | RateCondition


@dataclass(frozen=True)
class AlertRule:
    name: str
    condition: Condition
    line: int  # where its [[alert]] table starts in the file
    binary: str | None = None
    error_kind: str | None = None
    return_code: int | None = None
    message: str | None = None  # a regular expression
    min_fuel: int | None = None
    min_duration_ms: float | None = None

    @cached_property
    def matches_failures_only(self) -> bool:
        """A rule without match filters counts the failed runs."""
        return all(getattr(self, key) is None for key in MATCH_KEYS)

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.message) if self.message is not None else None

    def filters(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FILTER_KEYS if getattr(self, key) is not None}

    def fingerprint(self) -> str:
        """Changes when the rule's meaning does (a changed rule starts afresh)."""
        definition = {**self.filters(), "condition": self.condition.text}
        text = json.dumps(definition, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.filters(), "condition": self.condition.text}


@dataclass(frozen=True)
class RuleSet:
    path: Path
    rules: tuple[AlertRule, ...]


def default_rules_path(home: Path) -> Path:
    return home / ALERT_RULES_FILENAME


def load_rules(path: Path) -> RuleSet:
    """The rules in `path`; a usage error naming the line for anything malformed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WasmcliError(ErrorKind.USAGE, f"no alert rules file {path}") from None
    except IsADirectoryError:
        raise WasmcliError(
            ErrorKind.USAGE, f"{path} is a folder, not an alert rules file"
        ) from None
    except OSError as exc:
        raise WasmcliError(ErrorKind.IO, f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _problem(path, line, "the file is not UTF-8 text") from None
    return parse_rules(text, path)


def parse_rules(text: str, path: Path) -> RuleSet:
    from wasmcli.insight.alerts.toml_text import TOMLDecodeError, parse_toml

    try:
        data = parse_toml(text)
    except TOMLDecodeError as exc:
        raise _syntax_error(path, exc) from None
    lines = _KeyLines(text)
    for key in data:
        if key != "alert":
            raise _problem(
                path, lines.top_level(key), f"unknown key {key!r}: rules are [[alert]] tables"
            )
    tables = data.get("alert", [])
    if not isinstance(tables, list):
        raise _problem(path, lines.top_level("alert"), "write each rule as [[alert]], not [alert]")
    rules: list[AlertRule] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(tables):
        line = lines.table(index)
        if not isinstance(table, dict):  # `alert = [...]` of something else
            raise _problem(path, line, "write each rule as an [[alert]] table")
        rule = _rule(table, index, lines, path)
        if rule.name in seen:
            raise _problem(
                path,
                line,
                f"a second rule named {rule.name!r} (the first is on line {seen[rule.name]})",
            )
        seen[rule.name] = line
        rules.append(rule)
    return RuleSet(path, tuple(rules))


def _rule(table: dict[str, Any], index: int, lines: _KeyLines, path: Path) -> AlertRule:
    def fail(key: str | None, problem: str) -> WasmcliError:
        where = lines.key(index, key) if key else lines.table(index)
        return _problem(path, where, problem)

    for key in table:
        if key not in RULE_KEYS:
            raise fail(key, f"unknown key {key!r} in [[alert]]: use {', '.join(RULE_KEYS)}")
    name = table.get("name")
    if name is None:
        raise fail(None, '[[alert]] without a name: add name = "..."')
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "name must be a non-empty string")
    values: dict[str, Any] = {}
    for key in ("binary", "error_kind", "message", "condition"):
        value = table.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(key, f"{key} must be a string, not {_type(value)}")
    if table.get("binary") is not None:
        if not table["binary"].strip():
            raise fail("binary", "binary must name a binary")
        values["binary"] = table["binary"].strip()
    if table.get("error_kind") is not None:
        values["error_kind"] = _error_kind(table["error_kind"], lambda p: fail("error_kind", p))
    if "return_code" in table:
        values["return_code"] = _return_code(table["return_code"], lambda p: fail("return_code", p))
    if table.get("message") is not None:
        try:
            re.compile(table["message"])
        except re.error as exc:
            raise fail("message", f"message is not a valid regular expression: {exc}") from None
        values["message"] = table["message"]
    for key in ("min_fuel", "min_duration_ms"):
        if key in table:
            values[key] = _minimum(key, table[key], lambda p, key=key: fail(key, p))
    condition_text = table.get("condition", DEFAULT_CONDITION)
    condition = parse_condition(condition_text, lambda p: fail("condition", p))
    return AlertRule(name=name.strip(), condition=condition, line=lines.table(index), **values)


def parse_condition(text: str, fail: Any) -> Condition:
    spec = " ".join(text.split())
    count = _COUNT.fullmatch(spec)
    if count:
        threshold, amount, unit = int(count.group(1)), int(count.group(2)), count.group(3).lower()
        if unit not in _UNITS:
            raise fail(f"unknown unit {unit!r} in condition: use s, m, h, d or w")
        window = timedelta(seconds=amount * _UNITS[unit])
        if threshold < 1 or amount < 1:
            raise fail("count and duration in a condition must be 1 or more")
        if window > MAX_WINDOW:
            raise fail("the duration in a condition must be at most 3650 days")
        return CountCondition(threshold, window, spec)
    rate = _RATE.fullmatch(spec)
    if rate:
        percent, runs = float(rate.group(1)), int(rate.group(2))
        if not 0 < percent <= 100:
            raise fail("the failure rate in a condition must be above 0% and at most 100%")
        if runs < 1:
            raise fail("the number of runs in a condition must be 1 or more")
        return RateCondition(percent, runs, spec)
    raise fail(f"condition {text!r} is not understood: write {CONDITION_FORMS}")


def _error_kind(value: str, fail: Any) -> str:
    kinds = [kind.value for kind in ErrorKind]
    if value.lower() not in kinds:
        raise fail(f"unknown error_kind {value!r}: use one of {', '.join(kinds)}")
    return value.lower()


def _return_code(value: Any, fail: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise fail(f"return_code must be a number or a name, not {_type(value)}")
    if isinstance(value, int):
        if not -(2**31) <= value < 2**31:
            raise fail("return_code must fit in a 32-bit integer (process returns an i32)")
        return value
    by_name = {rc.name: rc.code for rc in RETURN_CODES}
    code = by_name.get(value.strip().upper())
    if code is None:
        raise fail(f"unknown return_code {value!r}: use a number or one of {', '.join(by_name)}")
    return code


def _minimum(key: str, value: Any, fail: Any) -> int | float:
    integer_only = key == "min_fuel"
    allowed = (int,) if integer_only else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed):
        kind = "a whole number" if integer_only else "a number"
        raise fail(f"{key} must be {kind}, not {_type(value)}")
    if value < 0 or value != value:  # negative, or NaN
        raise fail(f"{key} must be 0 or more")
    return value


def _type(value: Any) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _problem(path: Path, line: int, problem: str) -> WasmcliError:
    return WasmcliError(ErrorKind.USAGE, f"{path}:{line}: {problem}")


def _syntax_error(path: Path, exc: Exception) -> WasmcliError:
    # tomllib: "Expected '=' after a key in a key/value pair (at line 3, column 5)".
    message = str(exc)
    found = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if found:
        problem = message[: found.start()]
        return _problem(path, int(found.group(1)), f"{problem} (column {found.group(2)})")
    end = re.search(r"\s*\(at end of document\)$", message)
    if end:
        return _problem(path, _line_count(path), message[: end.start()] + " (at the end)")
    return WasmcliError(ErrorKind.USAGE, f"{path}: {message}")


def _line_count(path: Path) -> int:
    try:
        return max(1, path.read_text(encoding="utf-8").count("\n"))
    except OSError:
        return 1


class _KeyLines:
    """Where tables and keys are in the file's text, to name the line of a problem that
    only shows after parsing (TOML parsers give values, not positions)."""

    _HEADER = re.compile(r"\s*\[\[\s*alert\s*\]\]")
    _OTHER_HEADER = re.compile(r"\s*\[")

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.tables = [n for n, line in enumerate(self.lines, 1) if self._HEADER.match(line)]

    def table(self, index: int) -> int:
        return self.tables[index] if index < len(self.tables) else 1

    def key(self, index: int, key: str) -> int:
        start = self.table(index)
        pattern = re.compile(
            rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*="
        )
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if self._OTHER_HEADER.match(line):
                break
            if pattern.match(line):
                return number
        return start

    def top_level(self, key: str) -> int:
        pattern = re.compile(rf"\s*\[*\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*[\]=.]")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return number
        return 1
