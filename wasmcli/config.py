"""Run configuration, its environment-variable defaults, and where wasmcli keeps its data.

Every limit has a command-line option and an environment variable; the option wins,
then the variable, then the default here. Every number a user can give has a range
(`BOUNDS`) that both engines and SQLite hold, so a number out of range is a usage error
(exit 2) before anything runs, never an overflow later. README's env-var table is
checked against `ENV_VARS`, and its table of ranges against `BOUNDS`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.home_path import home_path

DEFAULT_TIMEOUT_MS = 5000
DEFAULT_MEMORY_LIMIT_MB = 64
DEFAULT_MAX_OUTPUT = 1024 * 1024
DEFAULT_MAX_TRACES = 100
# Retention by size as well as by count: the oldest traces go first while the stored
# traces take more than this (each trace is bounded too: tracing/recorder.py).
DEFAULT_MAX_TRACE_BYTES = 100 * 1024 * 1024
# Alert rules a run evaluates after storing its trace, when this file is in the home.
ALERT_RULES_FILENAME = "alerts.toml"
# Frames of the plugin's functions at once. Reached before either engine's native stack
# overflows for frames that keep up to 48 values of 64 bits live across a call (about
# 430 bytes of native stack each; wasmtime's 512 KiB stack is the smaller), held by
# tests/test_call_depth.py; see docs/design.md section 4.
DEFAULT_MAX_CALL_DEPTH = 1000
# The original system derived fuel from the timeout: one million units per millisecond.
FUEL_PER_MS = 1_000_000
ENGINE_CHOICES = ("auto", "wasmtime", "wasmer")
# Keys of the env JSON that wasmcli fills itself (--seed and --timestamp set them).
RESERVED_ENV_KEYS = ("timestamp", "random_seed")

I64_MIN, I64_MAX = -(2**63), 2**63 - 1

ENV_VARS: dict[str, str] = {
    "WASMCLI_HOME": "data folder (registry, traces, cache); default $XDG_DATA_HOME/wasmcli",
    "WASMCLI_ENGINE": "auto, wasmtime or wasmer (default auto: wasmer where it imports)",
    "WASMCLI_TIMEOUT_MS": f"wall-clock limit per run in ms (default {DEFAULT_TIMEOUT_MS})",
    "WASMCLI_MEMORY_LIMIT_MB": f"memory cap per run in MB (default {DEFAULT_MEMORY_LIMIT_MB})",
    "WASMCLI_FUEL": "fuel limit per run (default timeout_ms * 1,000,000)",
    "WASMCLI_MAX_OUTPUT": "output cap in bytes, K/M suffixes allowed (default 1M)",
    "WASMCLI_MAX_CALL_DEPTH": (
        f"frames of the plugin's functions at once (default {DEFAULT_MAX_CALL_DEPTH:,})"
    ),
    "WASMCLI_MAX_TRACES": f"traces kept, newest first (default {DEFAULT_MAX_TRACES})",
    "WASMCLI_MAX_TRACE_BYTES": "total size of the traces kept, K/M/G suffixes (default 100M)",
    "WASMCLI_TRACE": "0 to record no traces (default 1)",
    "WASMCLI_DAEMON": "auto uses a running daemon, 1 also starts one, 0 never uses one",
    "NO_COLOR": "any value turns colors off",
}


@dataclass(frozen=True)
class Bound:
    """The whole numbers a setting accepts, by option and by environment variable."""

    option: str | None
    variable: str | None
    minimum: int
    maximum: int
    shown_max: str  # the maximum as the README and the error messages write it

    @property
    def names(self) -> str:
        return " / ".join(name for name in (self.option, self.variable) if name)

    def check(self, value: int, given_as: str) -> int:
        if self.minimum <= value <= self.maximum:
            return value
        limit = f"at least {self.minimum}" if value < self.minimum else f"at most {self.shown_max}"
        raise WasmcliError(ErrorKind.USAGE, f"{given_as} must be {limit} (got {value})")


BOUNDS: dict[str, Bound] = {
    # A day: longer than any plugin call should take, far inside every clock and counter.
    "timeout_ms": Bound("--timeout-ms", "WASMCLI_TIMEOUT_MS", 1, 86_400_000, "86400000 (24 h)"),
    # wasmtime's fuel counter and SQLite's integers are signed 64-bit.
    "fuel": Bound("--fuel", "WASMCLI_FUEL", 1, I64_MAX, "9223372036854775807 (2^63-1)"),
    # All a 32-bit WebAssembly memory can address (65,536 pages of 64 KiB).
    "memory_limit_mb": Bound(
        "--memory-limit-mb", "WASMCLI_MEMORY_LIMIT_MB", 1, 4096, "4096 (4 GiB)"
    ),
    # The output is held in memory before it is printed.
    "max_output": Bound("--max-output", "WASMCLI_MAX_OUTPUT", 1, 1024**3, "1G (1 GiB)"),
    # More frames than either engine's native stack holds even when they are the smallest
    # (wasmtime about 11,000, wasmer about 260,000): past the default, the native stack
    # overflow may come first (exit 8, "stack overflow"), as the documentation says.
    "max_call_depth": Bound("--max-call-depth", "WASMCLI_MAX_CALL_DEPTH", 1, 1_000_000, "1000000"),
    # The env JSON's random_seed and timestamp are signed 64-bit (stored in SQLite as such).
    "seed": Bound("--seed", None, I64_MIN, I64_MAX, "9223372036854775807 (2^63-1)"),
    "timestamp_ns": Bound("--timestamp", None, I64_MIN, I64_MAX, "9223372036854775807 (2^63-1)"),
    "max_traces": Bound(None, "WASMCLI_MAX_TRACES", 0, I64_MAX, "9223372036854775807 (2^63-1)"),
    # Compared with SQLite's signed 64-bit sum of the stored sizes.
    "max_trace_bytes": Bound(
        None, "WASMCLI_MAX_TRACE_BYTES", 0, I64_MAX, "9223372036854775807 (2^63-1)"
    ),
    # `traces list/export/clear --limit`: an SQLite LIMIT.
    "limit": Bound("--limit", None, 0, I64_MAX, "9223372036854775807 (2^63-1)"),
}


def resolve_home(option: str | Path | None = None) -> Path:
    """`--home`, else $WASMCLI_HOME, else $XDG_DATA_HOME/wasmcli (~/.local/share/wasmcli)."""
    return Path(home_path(str(option) if option else None))


_SIZE = re.compile(r"^\s*(\d+)\s*([kKmMgG]i?[bB]?|[bB])?\s*$")
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str, what: str) -> int:
    """'1048576', '512K', '1M', '2MiB' -> bytes; a usage error otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise WasmcliError(
            ErrorKind.USAGE, f"invalid {what} {text!r}: use a number of bytes like 65536, 64K or 1M"
        )
    unit = (match.group(2) or "").lower()[:1]
    return int(match.group(1)) * _SIZE_FACTORS[unit]


def _env_int(name: str, default: int | None, bound: Bound) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise WasmcliError(
            ErrorKind.USAGE, f"invalid {name}={raw!r}: expected a whole number"
        ) from None
    return bound.check(value, name)


def _env_size(name: str, default: int, bound: Bound) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return bound.check(parse_size(raw, name), name)


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def max_traces_from_env() -> int:
    return _env_int("WASMCLI_MAX_TRACES", DEFAULT_MAX_TRACES, BOUNDS["max_traces"]) or 0


def max_trace_bytes_from_env() -> int:
    return _env_size("WASMCLI_MAX_TRACE_BYTES", DEFAULT_MAX_TRACE_BYTES, BOUNDS["max_trace_bytes"])


def tracing_enabled_from_env() -> bool:
    return env_flag("WASMCLI_TRACE", True)


@dataclass(frozen=True)
class RunConfig:
    """Everything that shapes one run besides the binary and its input."""

    timeout_ms: int = DEFAULT_TIMEOUT_MS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    fuel: int | None = None  # None: derived from the timeout
    max_output: int = DEFAULT_MAX_OUTPUT
    # None: no call-depth count at all, the engines' native stacks alone (for tests and
    # benchmarks that measure the count; neither the CLI nor the variable gives None).
    max_call_depth: int | None = DEFAULT_MAX_CALL_DEPTH
    engine: str = "auto"
    # `--profile`: the run's fuel profile in its trace (docs/design.md, "Profiles").
    profile: bool = False
    env: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    timestamp_ns: int | None = None

    @property
    def fuel_limit(self) -> int:
        return self.fuel if self.fuel is not None else self.timeout_ms * FUEL_PER_MS

    @property
    def memory_limit_bytes(self) -> int:
        return self.memory_limit_mb * 1024 * 1024

    def validate(self) -> RunConfig:
        """Every value within its bound (named by its option); a usage error otherwise."""
        for setting in (
            "timeout_ms",
            "memory_limit_mb",
            "fuel",
            "max_output",
            "max_call_depth",
            "seed",
        ):
            value = getattr(self, setting)
            if value is not None:
                bound = BOUNDS[setting]
                bound.check(value, bound.option or setting)
        if self.timestamp_ns is not None:
            BOUNDS["timestamp_ns"].check(self.timestamp_ns, "--timestamp")
        if self.engine not in ENGINE_CHOICES:
            raise WasmcliError(
                ErrorKind.USAGE,
                f"unknown engine {self.engine!r}: choose one of {', '.join(ENGINE_CHOICES)}",
            )
        for key in self.env:
            if key in RESERVED_ENV_KEYS:
                option = "--seed" if key == "random_seed" else f"--{key}"
                raise WasmcliError(ErrorKind.USAGE, f"--env {key}=... is reserved: use {option}")
        return self

    @classmethod
    def from_env(cls, **overrides: object) -> RunConfig:
        """Defaults from WASMCLI_* variables; keyword arguments that are not None win.

        A variable is read only where no option was given, so a bad variable does not
        stop a command whose option overrides it.
        """
        given = {key: value for key, value in overrides.items() if value is not None}
        readers: dict[str, Callable[[], object]] = {
            "timeout_ms": lambda: _env_int(
                "WASMCLI_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, BOUNDS["timeout_ms"]
            ),
            "memory_limit_mb": lambda: _env_int(
                "WASMCLI_MEMORY_LIMIT_MB", DEFAULT_MEMORY_LIMIT_MB, BOUNDS["memory_limit_mb"]
            ),
            "fuel": lambda: _env_int("WASMCLI_FUEL", None, BOUNDS["fuel"]),
            "max_output": lambda: _env_size(
                "WASMCLI_MAX_OUTPUT", DEFAULT_MAX_OUTPUT, BOUNDS["max_output"]
            ),
            "max_call_depth": lambda: _env_int(
                "WASMCLI_MAX_CALL_DEPTH", DEFAULT_MAX_CALL_DEPTH, BOUNDS["max_call_depth"]
            ),
            "engine": lambda: (os.environ.get("WASMCLI_ENGINE") or "auto").strip().lower(),
        }
        values: dict[str, object] = {
            key: read() for key, read in readers.items() if key not in given
        }
        values.update(given)
        return cls(**values).validate()  # type: ignore[arg-type]
