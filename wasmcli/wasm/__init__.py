"""An engine-free WebAssembly binary toolkit: inspect modules, meter fuel, cap memory.

Pure standard library: nothing here imports an engine. `read_module_info` is what
`wasmcli inspect` and the ABI check use; `instrument_fuel` gives an engine without native
fuel (wasmer) wasmtime's fuel, and `limit_resources` makes both engines hold one memory
cap for all memories and tables.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import ResourcesAboveLimit, WasmFormatError
from .info import Export, Import, MemoryInfo, ModuleInfo, TableInfo, read_module_info
from .memory_limit import (
    TABLE_ELEMENT_BYTES,
    check_declared,
    footprint,
    limit_resources,
)
from .valtypes import FuncType

if TYPE_CHECKING:
    from .features import SUPPORTED, UnsupportedProposal, check_supported, proposals_used
    from .fuel import FUEL_EXHAUSTED, FUEL_EXPORT, START_EXPORT, instrument_fuel

# The fuel instrumenter serves wasmer alone: it is imported on first use, so that a run on
# wasmtime (and `wasmcli inspect`) does not pay for loading it.
# The proposal check runs only where a module is compiled (not from the cache) and in
# `inspect`: it is imported on first use too.
_LAZY = {
    "SUPPORTED": ".features",
    "UnsupportedProposal": ".features",
    "check_supported": ".features",
    "proposals_used": ".features",
    "FUEL_EXHAUSTED": ".fuel",
    "FUEL_EXPORT": ".fuel",
    "START_EXPORT": ".fuel",
    "instrument_fuel": ".fuel",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


__all__ = [
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
