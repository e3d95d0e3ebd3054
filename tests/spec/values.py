"""Spec-test values as exact bit patterns, and the suite's rules for matching them.

A value is a `(type, payload)` pair: integers, floats and vectors carry their bits as an
unsigned int (so a float is compared bit for bit, NaN payload and sign included); `funcref`
carries "func" or None; `externref` carries the host value or None. Two replays of one
call agree when their value tuples are equal; the reference run must also match what the
suite expects, where a NaN may be expected by class ("nan:canonical", "nan:arithmetic").
"""

from __future__ import annotations

from typing import Any

Value = tuple[str, Any]

WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64, "v128": 128}
LANES = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "f32": 32, "f64": 64}
# Quiet bit and exponent of a float of each width: a canonical NaN is exactly these bits
# (either sign), an arithmetic NaN has at least them.
_CANONICAL_NAN = {32: 0x7FC00000, 64: 0x7FF8000000000000}
# The reference types wasmtime-py can pass and return. Anything else (GC types, typed
# function references, exnref) cannot cross its API.
CALLABLE = frozenset(("i32", "i64", "f32", "f64", "v128", "funcref", "externref"))


def _bits(text: str, width: int) -> int:
    return int(text) & ((1 << width) - 1)


def parse_arg(spec: dict[str, Any]) -> Value:
    """An argument of an `invoke` as a value."""
    ty = spec["type"]
    if ty in ("i32", "i64", "f32", "f64"):
        return ty, _bits(spec["value"], WIDTH[ty])
    if ty == "v128":
        lane_bits = LANES[spec["lane_type"]]
        whole = 0
        for i, lane in enumerate(spec["value"]):
            whole |= _bits(lane, lane_bits) << (i * lane_bits)
        return ty, whole
    if ty == "funcref":
        if spec["value"] != "null":
            raise ValueError("a non-null funcref argument cannot be written in a script")
        return ty, None
    if ty == "externref":
        return ty, None if spec["value"] == "null" else int(spec["value"])
    raise ValueError(f"unsupported argument type {ty}")


def _float_matches(expected: str, bits: int, width: int) -> bool:
    canonical = _CANONICAL_NAN[width]
    magnitude = bits & ~(1 << (width - 1))
    if expected == "nan:canonical":
        return magnitude == canonical
    if expected == "nan:arithmetic":
        return bits & canonical == canonical
    return bits == _bits(expected, width)


def _lane(bits: int, index: int, lane_bits: int) -> int:
    return (bits >> (index * lane_bits)) & ((1 << lane_bits) - 1)


def matches(expected: dict[str, Any], actual: Value) -> bool:
    """Whether `actual` is what the suite expects, NaN classes included."""
    ty = expected["type"]
    if ty == "either":
        return any(matches(option, actual) for option in expected["values"])
    actual_type, payload = actual
    if ty in ("i32", "i64"):
        return actual_type == ty and payload == _bits(expected["value"], WIDTH[ty])
    if ty in ("f32", "f64"):
        return actual_type == ty and _float_matches(expected["value"], payload, WIDTH[ty])
    if ty == "v128":
        if actual_type != "v128":
            return False
        lane_type = expected["lane_type"]
        lane_bits = LANES[lane_type]
        for i, lane in enumerate(expected["value"]):
            got = _lane(payload, i, lane_bits)
            if lane_type in ("f32", "f64"):
                if not _float_matches(lane, got, lane_bits):
                    return False
            elif got != _bits(lane, lane_bits):
                return False
        return True
    if ty == "refnull" or ty.startswith("null"):  # nullfuncref, nullexternref: a null
        return payload is None
    if ty in ("funcref", "externref"):
        if actual_type != ty:
            return False
        value = expected.get("value")
        if value == "null":
            return payload is None
        if value is None:  # any non-null reference
            return payload is not None
        return payload == int(value) if ty == "externref" else payload is not None
    raise ValueError(f"unsupported expected type {ty}")


def describe(values: list[Value] | None) -> str:
    """Values for a mismatch report: floats and vectors in hex, so bits are visible."""
    if values is None:
        return "-"
    parts = []
    for ty, payload in values:
        if payload is None:
            parts.append(f"{ty}:null")
        elif ty in ("f32", "f64", "v128"):
            parts.append(f"{ty}:{payload:#x}")
        else:
            parts.append(f"{ty}:{payload}")
    return ", ".join(parts) or "()"
