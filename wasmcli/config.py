"""Run configuration, its environment-variable defaults, and where wasmcli keeps its data.

Every limit has a command-line option and an environment variable; the option wins,
then the variable, then the default here. README's env-var table is checked against
`ENV_VARS`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from wasmcli.errors import ErrorKind, WasmcliError

DEFAULT_TIMEOUT_MS = 5000
DEFAULT_MEMORY_LIMIT_MB = 64
DEFAULT_MAX_OUTPUT = 1024 * 1024
DEFAULT_MAX_TRACES = 100
# The original system derived fuel from the timeout: one million units per millisecond.
FUEL_PER_MS = 1_000_000
ENGINE_CHOICES = ("auto", "wasmtime", "wasmer")

ENV_VARS: dict[str, str] = {
    "WASMCLI_HOME": "data folder (registry, traces, cache); default $XDG_DATA_HOME/wasmcli",
    "WASMCLI_ENGINE": "auto, wasmtime or wasmer (default auto: wasmer where it imports)",
    "WASMCLI_TIMEOUT_MS": f"wall-clock limit per run in ms (default {DEFAULT_TIMEOUT_MS})",
    "WASMCLI_MEMORY_LIMIT_MB": f"memory cap per run in MB (default {DEFAULT_MEMORY_LIMIT_MB})",
    "WASMCLI_FUEL": "fuel limit per run (default timeout_ms * 1,000,000)",
    "WASMCLI_MAX_OUTPUT": "output cap in bytes, K/M suffixes allowed (default 1M)",
    "WASMCLI_MAX_TRACES": f"traces kept, newest first (default {DEFAULT_MAX_TRACES})",
    "WASMCLI_TRACE": "0 to record no traces (default 1)",
    "NO_COLOR": "any value turns colors off",
}


def resolve_home(option: str | Path | None = None) -> Path:
    """`--home`, else $WASMCLI_HOME, else $XDG_DATA_HOME/wasmcli (~/.local/share/wasmcli)."""
    if option:
        return Path(option).expanduser()
    if os.environ.get("WASMCLI_HOME"):
        return Path(os.environ["WASMCLI_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "wasmcli"


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


def _env_int(name: str, default: int | None, minimum: int = 1) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        raise WasmcliError(
            ErrorKind.USAGE, f"invalid {name}={raw!r}: expected a whole number"
        ) from None
    if value < minimum:
        raise WasmcliError(ErrorKind.USAGE, f"invalid {name}={raw!r}: must be at least {minimum}")
    return value


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def max_traces_from_env() -> int:
    return _env_int("WASMCLI_MAX_TRACES", DEFAULT_MAX_TRACES, minimum=0) or 0


def tracing_enabled_from_env() -> bool:
    return env_flag("WASMCLI_TRACE", True)


@dataclass(frozen=True)
class RunConfig:
    """Everything that shapes one run besides the binary and its input."""

    timeout_ms: int = DEFAULT_TIMEOUT_MS
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    fuel: int | None = None  # None: derived from the timeout
    max_output: int = DEFAULT_MAX_OUTPUT
    engine: str = "auto"
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
        for name, value in (
            ("--timeout-ms", self.timeout_ms),
            ("--memory-limit-mb", self.memory_limit_mb),
            ("--max-output", self.max_output),
        ):
            if value < 1:
                raise WasmcliError(ErrorKind.USAGE, f"{name} must be at least 1 (got {value})")
        if self.fuel is not None and self.fuel < 1:
            raise WasmcliError(ErrorKind.USAGE, f"--fuel must be at least 1 (got {self.fuel})")
        if self.memory_limit_mb > 65536:
            raise WasmcliError(
                ErrorKind.USAGE, "--memory-limit-mb must be at most 65536 (4 GiB, wasm32's limit)"
            )
        if self.engine not in ENGINE_CHOICES:
            raise WasmcliError(
                ErrorKind.USAGE,
                f"unknown engine {self.engine!r}: choose one of {', '.join(ENGINE_CHOICES)}",
            )
        return self

    @classmethod
    def from_env(cls, **overrides: object) -> RunConfig:
        """Defaults from WASMCLI_* variables; keyword arguments that are not None win."""
        max_output_raw = os.environ.get("WASMCLI_MAX_OUTPUT")
        values: dict[str, object] = {
            "timeout_ms": _env_int("WASMCLI_TIMEOUT_MS", DEFAULT_TIMEOUT_MS),
            "memory_limit_mb": _env_int("WASMCLI_MEMORY_LIMIT_MB", DEFAULT_MEMORY_LIMIT_MB),
            "fuel": _env_int("WASMCLI_FUEL", None),
            "max_output": (
                parse_size(max_output_raw, "WASMCLI_MAX_OUTPUT")
                if max_output_raw
                else DEFAULT_MAX_OUTPUT
            ),
            "engine": (os.environ.get("WASMCLI_ENGINE") or "auto").strip().lower(),
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values).validate()  # type: ignore[arg-type]
