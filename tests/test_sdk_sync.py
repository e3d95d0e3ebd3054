"""The plugin SDKs mirror the return-code table of wasmcli/return_codes.py.

sample_plugins/sdk/plugin_helpers.rs (Rust) and sample_plugins/sdk/wasmcli_plugin.h (C)
each define every code of RETURN_CODES by the same name and value, and nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmcli.return_codes import RETURN_CODES

SDK = Path(__file__).resolve().parent.parent / "sample_plugins" / "sdk"
RUST_SDK = SDK / "plugin_helpers.rs"
C_SDK = SDK / "wasmcli_plugin.h"

# A return-code name: SUCCESS or ERROR_*.
CODE_NAME = r"(?:SUCCESS|ERROR_[A-Z0-9_]+)"

# `pub const ERROR_INVALID_UTF8: i32 = -1;`
RUST_CODE = re.compile(rf"^\s*pub\s+const\s+({CODE_NAME})\s*:\s*i32\s*=\s*(-?\d+)\s*;", re.M)
# Any constant with a return-code name, so one written another way is not overlooked.
RUST_ANY = re.compile(rf"\bconst\s+({CODE_NAME})\b")

# `#define WASMCLI_ERROR_INVALID_UTF8 (-1)` (the parentheses are optional).
C_CODE = re.compile(rf"^\s*#\s*define\s+WASMCLI_({CODE_NAME})\s+\(?\s*(-?\d+)\s*\)?\s*$", re.M)
C_ANY = re.compile(rf"#\s*define\s+WASMCLI_({CODE_NAME})\b")


def parse_codes(text: str, strict: re.Pattern[str], loose: re.Pattern[str]) -> dict[str, int]:
    """Name -> value of every return code defined in an SDK file.

    Fails on a definition the strict pattern cannot read, and on a name defined twice.
    """
    codes: dict[str, int] = {}
    for name, value in strict.findall(text):
        assert name not in codes, f"{name} is defined twice"
        codes[name] = int(value)
    unreadable = sorted(set(loose.findall(text)) - set(codes))
    assert not unreadable, f"definitions in an unexpected form: {unreadable}"
    return codes


def expected() -> dict[str, int]:
    return {rc.name: rc.code for rc in RETURN_CODES}


def assert_in_sync(codes: dict[str, int], sdk_name: str) -> None:
    table = expected()
    missing = sorted(set(table) - set(codes))
    extra = sorted(set(codes) - set(table))
    differ = {
        name: (codes[name], table[name])
        for name in sorted(set(codes) & set(table))
        if codes[name] != table[name]
    }
    assert not missing, f"{sdk_name} lacks {missing}"
    assert not extra, f"{sdk_name} defines codes that are not in RETURN_CODES: {extra}"
    assert not differ, f"{sdk_name} values differ (sdk, table): {differ}"


@pytest.mark.parametrize(
    ("path", "strict", "loose"),
    [(RUST_SDK, RUST_CODE, RUST_ANY), (C_SDK, C_CODE, C_ANY)],
    ids=["rust", "c"],
)
def test_sdk_mirrors_return_codes(
    path: Path, strict: re.Pattern[str], loose: re.Pattern[str]
) -> None:
    codes = parse_codes(path.read_text(encoding="utf-8"), strict, loose)
    assert_in_sync(codes, path.name)


def test_rust_result_type_is_declared() -> None:
    text = RUST_SDK.read_text(encoding="utf-8")
    assert re.search(r"pub\s+type\s+PluginResult<T>\s*=\s*Result<T,\s*i32>\s*;", text)


# The checks themselves must catch drift, or the tests above prove nothing.


def rust_source(codes: dict[str, int]) -> str:
    return "".join(f"pub const {name}: i32 = {value};\n" for name, value in codes.items())


def c_source(codes: dict[str, int]) -> str:
    return "".join(f"#define WASMCLI_{name} ({value})\n" for name, value in codes.items())


@pytest.mark.parametrize(
    ("source", "strict", "loose"),
    [(rust_source, RUST_CODE, RUST_ANY), (c_source, C_CODE, C_ANY)],
    ids=["rust", "c"],
)
def test_drift_is_caught(
    source: Callable[[dict[str, int]], str], strict: re.Pattern[str], loose: re.Pattern[str]
) -> None:
    table = expected()
    assert_in_sync(parse_codes(source(table), strict, loose), "faithful copy")

    changed = {**table, "ERROR_PARSE_ERROR": -50}
    with pytest.raises(AssertionError, match="values differ"):
        assert_in_sync(parse_codes(source(changed), strict, loose), "drifted")

    missing = {k: v for k, v in table.items() if k != "ERROR_ENV_PARSING"}
    with pytest.raises(AssertionError, match="lacks"):
        assert_in_sync(parse_codes(source(missing), strict, loose), "incomplete")

    extra = {**table, "ERROR_TIMEOUT": -7}
    with pytest.raises(AssertionError, match="not in RETURN_CODES"):
        assert_in_sync(parse_codes(source(extra), strict, loose), "extended")


def test_unreadable_definition_is_caught() -> None:
    with pytest.raises(AssertionError, match="unexpected form"):
        parse_codes("pub const ERROR_UNKNOWN: i32 = -(99);\n", RUST_CODE, RUST_ANY)
    with pytest.raises(AssertionError, match="unexpected form"):
        parse_codes("#define WASMCLI_ERROR_UNKNOWN -99 /* x */\n", C_CODE, C_ANY)
