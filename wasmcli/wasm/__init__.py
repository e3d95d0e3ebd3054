"""An engine-free WebAssembly binary toolkit: inspect modules, meter fuel, cap memory.

Pure standard library: nothing here imports an engine. `read_module_info` is what
`wasmcli inspect` and the ABI check use; `instrument_fuel` and `limit_memory` give an
engine without native fuel or store limits (wasmer) the same guarantees as wasmtime.
"""

from .errors import MemoryAboveLimit, ResourcesAboveLimit, WasmFormatError
from .fuel import FUEL_EXPORT, START_EXPORT, instrument_fuel
from .info import Export, Import, MemoryInfo, ModuleInfo, TableInfo, read_module_info
from .memory_limit import (
    TABLE_ELEMENT_BYTES,
    check_declared,
    footprint,
    limit_memory,
    limit_resources,
)
from .valtypes import FuncType

__all__ = [
    "FUEL_EXPORT",
    "START_EXPORT",
    "Export",
    "FuncType",
    "Import",
    "MemoryAboveLimit",
    "MemoryInfo",
    "ResourcesAboveLimit",
    "TABLE_ELEMENT_BYTES",
    "ModuleInfo",
    "TableInfo",
    "WasmFormatError",
    "check_declared",
    "footprint",
    "instrument_fuel",
    "limit_memory",
    "limit_resources",
    "read_module_info",
]
