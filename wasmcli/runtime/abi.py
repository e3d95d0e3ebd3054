"""The plugin ABI check (docs/design.md section 1), from the module's bytes alone.

`abi_problems` lists everything wrong with a module, for `wasmcli inspect`;
`check_module` raises the first problem as the run's error. Neither imports an engine:
they read the module with wasmcli's own parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from wasmcli.engines.base import EngineLimits
from wasmcli.engines.faults import INSTANTIATE_FAILED, above_limit, format_mb
from wasmcli.engines.imports import import_problem
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.wasm import FuncType, ModuleInfo, WasmFormatError, footprint, read_module_info

PROCESS_SIGNATURE = FuncType(("i32", "i32", "i32", "i32"), ("i32",))
ALLOC_SIGNATURE = FuncType(("i32",), ("i32",))
__all__ = ["AbiProblem", "abi_problems", "check_module", "declared_bytes", "format_mb", "read_info"]


@dataclass(frozen=True)
class AbiProblem:
    kind: ErrorKind
    message: str


def declared_bytes(info: ModuleInfo) -> int:
    """What the module's own memories and tables take at instantiation: the memory cap
    covers them all together."""
    return footprint(
        sum(mem.min_pages for mem in info.memories if not mem.imported),
        sum(table.min_size for table in info.tables if not table.imported),
    )


def abi_problems(info: ModuleInfo, memory_limit_bytes: int | None = None) -> list[AbiProblem]:
    problems: list[AbiProblem] = []
    for imp in info.imports:
        signature = imp.signature if imp.kind == "func" else None
        problem = import_problem(imp.module, imp.name, signature)
        if problem is not None:
            problems.append(AbiProblem(ErrorKind.ABI, INSTANTIATE_FAILED + problem))

    exports = {exp.name: exp for exp in info.exports}
    memory = exports.get("memory")
    if memory is None or memory.kind != "memory":
        problems.append(AbiProblem(ErrorKind.ABI, "the module does not export `memory`"))
    else:
        mem = next((m for m in info.memories if m.index == memory.index), None)
        if mem is not None and mem.is_64:
            problems.append(
                AbiProblem(ErrorKind.ABI, "`memory` is a 64-bit memory; the ABI uses 32-bit")
            )
    if memory_limit_bytes is not None and declared_bytes(info) > memory_limit_bytes:
        error = above_limit(declared_bytes(info), memory_limit_bytes)
        problems.append(AbiProblem(error.kind, error.message))

    for name, wanted in (("process", PROCESS_SIGNATURE), ("alloc", ALLOC_SIGNATURE)):
        export = exports.get(name)
        if export is None:
            if name == "process":
                problems.append(AbiProblem(ErrorKind.ABI, "the module does not export `process`"))
            continue
        signature = export.signature if export.kind == "func" else None
        if signature != wanted:
            what = str(signature) if signature else f"a {export.kind}, not a function"
            problems.append(
                AbiProblem(
                    ErrorKind.ABI, f"`{name}` has the wrong signature: {what}, expected {wanted}"
                )
            )
    return problems


def read_info(wasm: bytes) -> ModuleInfo:
    try:
        return read_module_info(wasm)
    except WasmFormatError as exc:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to load module: {exc}") from None


def check_module(wasm: bytes, limits: EngineLimits) -> ModuleInfo:
    """The module's info, or its first ABI problem as a WasmcliError."""
    info, problem = _checked(wasm, limits.memory_limit_bytes)
    if problem is not None:
        raise WasmcliError(problem.kind, problem.message)
    assert info is not None
    return info


@lru_cache(maxsize=8)
def _checked(wasm: bytes, memory_limit_bytes: int) -> tuple[ModuleInfo | None, AbiProblem | None]:
    """Parsed once per module and limit: a batch checks the same module for every input
    (a bytes object caches its hash, so the lookup is cheap)."""
    try:
        info = read_info(wasm)
    except WasmcliError as error:
        return None, AbiProblem(error.kind, error.message)
    problems = abi_problems(info, memory_limit_bytes)
    return info, (problems[0] if problems else None)
