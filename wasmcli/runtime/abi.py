"""The plugin ABI check (docs/design.md section 1), from the module's bytes alone.

`abi_problems` lists everything wrong with a module, for `wasmcli inspect`;
`check_module` raises the first problem as the run's error. Neither imports an engine:
they read the module with wasmcli's own parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmcli.engines.base import MIB, WASM_PAGE_SIZE, EngineLimits
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.wasm import FuncType, ModuleInfo, WasmFormatError, read_module_info

PROCESS_SIGNATURE = (("i32", "i32", "i32", "i32"), ("i32",))
ALLOC_SIGNATURE = (("i32",), ("i32",))
HOST_LOG_SIGNATURE = (("i32", "i32"), ())


@dataclass(frozen=True)
class AbiProblem:
    kind: ErrorKind
    message: str


def signature_text(params: tuple[str, ...], results: tuple[str, ...]) -> str:
    return f"({', '.join(params)}) -> ({', '.join(results)})"


def format_mb(size_bytes: int) -> str:
    """128 MB, 4.06 MB: the unit the memory-limit messages use."""
    value = size_bytes / MIB
    return f"{value:g} MB" if value == int(value) else f"{value:.2f} MB"


def abi_problems(info: ModuleInfo, memory_limit_bytes: int | None = None) -> list[AbiProblem]:
    problems: list[AbiProblem] = []
    for imp in info.imports:
        if (imp.module, imp.name) != ("host", "log"):
            problems.append(
                AbiProblem(
                    ErrorKind.ABI,
                    f"Failed to instantiate module: import `{imp.module}::{imp.name}` not found"
                    " (the only import wasmcli provides is host.log)",
                )
            )
        elif imp.kind != "func" or _shape(imp.signature) != HOST_LOG_SIGNATURE:
            found = str(imp.signature) if imp.kind == "func" else imp.kind
            problems.append(
                AbiProblem(
                    ErrorKind.ABI,
                    f"import `host::log` has type {found}, expected "
                    f"{signature_text(*HOST_LOG_SIGNATURE)}",
                )
            )

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
        if mem is not None and memory_limit_bytes is not None:
            initial = mem.min_pages * WASM_PAGE_SIZE
            if initial > memory_limit_bytes:
                problems.append(
                    AbiProblem(
                        ErrorKind.MEMORY_LIMIT,
                        f"Memory limit exceeded: {format_mb(initial)} > "
                        f"{format_mb(memory_limit_bytes)}",
                    )
                )

    for name, wanted in (("process", PROCESS_SIGNATURE), ("alloc", ALLOC_SIGNATURE)):
        export = exports.get(name)
        if export is None:
            if name == "process":
                problems.append(AbiProblem(ErrorKind.ABI, "the module does not export `process`"))
            continue
        shape = _shape(export.signature) if export.kind == "func" else None
        if shape != wanted:
            what = signature_text(*shape) if shape else f"a {export.kind}, not a function"
            problems.append(
                AbiProblem(
                    ErrorKind.ABI,
                    f"`{name}` has the wrong signature: {what}, expected {signature_text(*wanted)}",
                )
            )
    return problems


def _shape(signature: FuncType | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    return None if signature is None else (signature.params, signature.results)


def read_info(wasm: bytes) -> ModuleInfo:
    try:
        return read_module_info(wasm)
    except WasmFormatError as exc:
        raise WasmcliError(ErrorKind.LOAD, f"Failed to load module: {exc}") from None


def check_module(wasm: bytes, limits: EngineLimits) -> ModuleInfo:
    """The module's info, or its first ABI problem as a WasmcliError."""
    info = read_info(wasm)
    problems = abi_problems(info, limits.memory_limit_bytes)
    if problems:
        raise WasmcliError(problems[0].kind, problems[0].message)
    return info
