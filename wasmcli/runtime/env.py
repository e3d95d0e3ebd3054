"""The env JSON object the host hands the plugin next to its input."""

from __future__ import annotations

import json
import secrets
import time

from wasmcli.config import RESERVED_ENV_KEYS

__all__ = ["RESERVED_ENV_KEYS", "build_env", "encode_env"]

# Default seeds stay below 2^53: JavaScript and jq read JSON numbers as doubles and round
# larger ones, and a seed copied from a trace must reproduce the run.
DEFAULT_SEED_BITS = 53


def build_env(
    extra: dict[str, str], seed: int | None, timestamp_ns: int | None
) -> dict[str, object]:
    """`{"timestamp": <unix ns>, "random_seed": <i64>}` plus the --env pairs (as strings).

    The seed and timestamp used are returned in the dict, so the trace can record them
    and the run can be repeated exactly with --seed and --timestamp.
    """
    env: dict[str, object] = {
        "timestamp": time.time_ns() if timestamp_ns is None else timestamp_ns,
        "random_seed": secrets.randbits(DEFAULT_SEED_BITS) if seed is None else seed,
    }
    for key, value in extra.items():
        env[key] = str(value)
    return env


# One encoder for every run: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_env(env: dict[str, object]) -> bytes:
    return _encode(env).encode("utf-8")
