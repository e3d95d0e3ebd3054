"""An engine-free WebAssembly binary toolkit: inspect modules, meter fuel, cap memory.

Pure standard library: nothing here imports an engine (`wat.wat_to_wasm` borrows the
wasmtime package's text parser, installed on every Python, and makes no engine).
`read_module_info` is what
`wasmcli inspect` and the ABI check use. The bytecode passes (`ResourceLimit`,
`CallDepth`, `FuelProfile`, `Fuel`) compose through `apply_passes` (pipeline.py);
`instrument_fuel` and `limit_resources` are single passes, for tests and tools.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ResourcesAboveLimit, WasmFormatError
from .info import Export, Import, MemoryInfo, ModuleInfo, TableInfo, read_module_info
from .memory_limit import (
    TABLE_ELEMENT_BYTES,
    ResourceLimit,
    check_declared,
    footprint,
    limit_resources,
)
from .valtypes import FuncType

if TYPE_CHECKING:
    from .depth import CALL_COST, DEPTH_EXCEEDED, DEPTH_EXPORT, CallDepth
    from .features import SUPPORTED, UnsupportedProposal, check_supported, proposals_used
    from .fuel import FUEL_EXHAUSTED, FUEL_EXPORT, START_EXPORT, Fuel, instrument_fuel
    from .pipeline import OVERHEAD_EXPORT, OffsetMap, Pass, apply_passes, cache_key_parts
    from .profile import PROFILE_MODULE, FuelProfile

# The fuel instrumenter serves wasmer alone: it is imported on first use, so that a run on
# wasmtime (and `wasmcli inspect`) does not pay for loading it.
# The proposal check runs only where a module is compiled (not from the cache) and in
# `inspect`: it is imported on first use too.
_LAZY = {
    "CALL_COST": ".depth",
    "DEPTH_EXCEEDED": ".depth",
    "DEPTH_EXPORT": ".depth",
    "CallDepth": ".depth",
    "Fuel": ".fuel",
    "OVERHEAD_EXPORT": ".pipeline",
    "OffsetMap": ".pipeline",
    "Pass": ".pipeline",
    "apply_passes": ".pipeline",
    "cache_key_parts": ".pipeline",
    "SUPPORTED": ".features",
    "UnsupportedProposal": ".features",
    "check_supported": ".features",
    "proposals_used": ".features",
    "FUEL_EXHAUSTED": ".fuel",
    "FUEL_EXPORT": ".fuel",
    "START_EXPORT": ".fuel",
    "instrument_fuel": ".fuel",
    "FuelProfile": ".profile",
    "PROFILE_MODULE": ".profile",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CALL_COST",
    "DEPTH_EXCEEDED",
    "DEPTH_EXPORT",
    "CallDepth",
    "Fuel",
    "FuelProfile",
    "OVERHEAD_EXPORT",
    "PROFILE_MODULE",
    "OffsetMap",
    "Pass",
    "ResourceLimit",
    "apply_passes",
    "cache_key_parts",
    "SUPPORTED",
    "UnsupportedProposal",
    "check_supported",
    "proposals_used",
    "FUEL_EXHAUSTED",
    "FUEL_EXPORT",
    "START_EXPORT",
    "Export",
    "FuncType",
    "Import",
    "MemoryInfo",
    "ResourcesAboveLimit",
    "TABLE_ELEMENT_BYTES",
    "ModuleInfo",
    "TableInfo",
    "WasmFormatError",
    "check_declared",
    "footprint",
    "instrument_fuel",
    "limit_resources",
    "read_module_info",
]
