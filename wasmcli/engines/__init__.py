"""Engine selection. Adapters are imported only when a run needs one, so read-only
commands (list, traces ...) never pay for loading an engine."""

from __future__ import annotations

import sys
from importlib.util import find_spec

from wasmcli.engines.base import Engine, EngineLimits, LoadedModule, PluginInstance
from wasmcli.errors import ErrorKind, WasmcliError

__all__ = [
    "Engine",
    "EngineLimits",
    "LoadedModule",
    "PluginInstance",
    "available_engines",
    "load_engine",
    "wasmer_unavailable_reason",
]

ENGINE_NAMES = ("wasmtime", "wasmer")


def wasmer_unavailable_reason() -> str | None:
    """Why wasmer cannot be used here, or None when it can."""
    if sys.version_info >= (3, 11):
        return (
            "the wasmer engine needs Python 3.10 or older: wasmer 1.1.0 publishes no wheels "
            f"for Python {sys.version_info.major}.{sys.version_info.minor}; "
            "use --engine wasmtime, or run wasmcli with Python 3.10"
        )
    if find_spec("wasmer") is None or find_spec("wasmer_compiler_cranelift") is None:
        return (
            "the wasmer engine is not installed: pip install wasmer==1.1.0 "
            "wasmer-compiler-cranelift==1.1.0"
        )
    try:
        import wasmer  # noqa: F401
        import wasmer_compiler_cranelift  # noqa: F401
    except ImportError as exc:
        return f"the wasmer engine cannot be loaded: {exc}"
    return None


def available_engines() -> list[str]:
    names = ["wasmtime"] if find_spec("wasmtime") is not None else []
    if wasmer_unavailable_reason() is None:
        names.insert(0, "wasmer")
    return names


def resolve_engine_name(name: str) -> str:
    """`auto` picks wasmer where it imports, else wasmtime (docs/design.md section 5)."""
    if name == "auto":
        return "wasmer" if wasmer_unavailable_reason() is None else "wasmtime"
    if name not in ENGINE_NAMES:
        raise WasmcliError(
            ErrorKind.USAGE, f"unknown engine {name!r}: choose auto, wasmtime or wasmer"
        )
    return name


def load_engine(name: str = "auto") -> Engine:
    name = resolve_engine_name(name)
    if name == "wasmer":
        reason = wasmer_unavailable_reason()
        if reason is not None:
            raise WasmcliError(ErrorKind.USAGE, reason[0].upper() + reason[1:])
        from wasmcli.engines.wasmer_engine import WasmerEngine

        return WasmerEngine()
    from wasmcli.engines.wasmtime_engine import WasmtimeEngine

    return WasmtimeEngine()
