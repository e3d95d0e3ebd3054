"""`wasmcli inspect`: what a module imports and exports, its memory, and its ABI check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wasmcli.engines.base import WASM_PAGE_SIZE
from wasmcli.errors import ErrorKind
from wasmcli.runtime.abi import AbiProblem, abi_problems, read_info
from wasmcli.store.registry import ResolvedBinary
from wasmcli.wasm import Export, Import, ModuleInfo


@dataclass(frozen=True)
class ExternItem:
    """An import or export: its names, its kind, and for functions its signature."""

    module: str | None
    name: str
    kind: str
    signature: str | None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "signature": self.signature}
        if self.module is not None:
            data = {"module": self.module, **data}
        return data


@dataclass(frozen=True)
class MemoryItem:
    index: int
    min_pages: int
    max_pages: int | None
    is_64: bool
    exported_as: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "min_pages": self.min_pages,
            "max_pages": self.max_pages,
            "min_bytes": self.min_pages * WASM_PAGE_SIZE,
            "max_bytes": None if self.max_pages is None else self.max_pages * WASM_PAGE_SIZE,
            "is_64": self.is_64,
            "exported_as": list(self.exported_as),
        }


@dataclass(frozen=True)
class InspectReport:
    binary_id: str
    name: str | None
    sha256: str
    size_bytes: int
    source: str
    imports: tuple[ExternItem, ...]
    exports: tuple[ExternItem, ...]
    memories: tuple[MemoryItem, ...]
    start_function: int | None
    function_count: int
    custom_sections: tuple[str, ...]
    memory_limit_bytes: int
    problems: tuple[AbiProblem, ...]
    proposals: tuple[str, ...] = ()  # the WebAssembly proposals it uses, MVP first

    @property
    def abi_ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "binary_id": self.binary_id,
            "name": self.name,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "source": self.source,
            "imports": [item.to_dict() for item in self.imports],
            "exports": [item.to_dict() for item in self.exports],
            "memories": [memory.to_dict() for memory in self.memories],
            "start_function": self.start_function,
            "function_count": self.function_count,
            "custom_sections": list(self.custom_sections),
            "proposals": list(self.proposals),
            "abi": {
                "ok": self.abi_ok,
                "memory_limit_bytes": self.memory_limit_bytes,
                "problems": [{"kind": p.kind.value, "message": p.message} for p in self.problems],
            },
        }


def inspect_binary(binary: ResolvedBinary, memory_limit_bytes: int) -> InspectReport:
    info = read_info(binary.wasm)
    proposals, proposal_problems = _proposals(binary.wasm)
    return InspectReport(
        binary_id=binary.binary_id,
        name=binary.name,
        sha256=binary.sha256,
        size_bytes=len(binary.wasm),
        source=binary.source,
        imports=tuple(
            ExternItem(imp.module, imp.name, imp.kind, _signature(imp)) for imp in info.imports
        ),
        exports=tuple(
            ExternItem(None, exp.name, exp.kind, _signature(exp)) for exp in info.exports
        ),
        memories=tuple(
            MemoryItem(m.index, m.min_pages, m.max_pages, m.is_64, m.export_names)
            for m in info.memories
        ),
        start_function=info.start,
        function_count=info.num_functions,
        custom_sections=info.custom_sections,
        memory_limit_bytes=memory_limit_bytes,
        problems=tuple(abi_problems(info, memory_limit_bytes))
        + proposal_problems
        + _start_problems(binary, info),
        proposals=proposals,
    )


def _proposals(wasm: bytes) -> tuple[tuple[str, ...], tuple[AbiProblem, ...]]:
    """The proposals the module uses, and a problem for each one wasmcli does not run
    (a run refuses the module: exit 3, load)."""
    from wasmcli.wasm import SUPPORTED, WasmFormatError, proposals_used

    try:
        used = proposals_used(wasm)
    except WasmFormatError:
        return (), ()
    problems = tuple(
        AbiProblem(ErrorKind.LOAD, f"uses {p}, which wasmcli does not run")
        for p in used
        if p not in SUPPORTED
    )
    return used, problems


def _start_problems(binary: ResolvedBinary, info: ModuleInfo) -> tuple[AbiProblem, ...]:
    """A start function that traps at its first instruction fails every instantiation."""
    from wasmcli.wasm.bodies import always_traps, function_body

    if info.start is None or info.start < info.num_imported_functions:
        return ()
    body = function_body(binary.wasm, info.start - info.num_imported_functions)
    if body is None or not always_traps(body):
        return ()
    return (
        AbiProblem(
            ErrorKind.ABI,
            "the start function always traps (its first instruction is `unreachable`), "
            "so the module can never be instantiated",
        ),
    )


def _signature(item: Import | Export) -> str | None:
    return str(item.signature) if item.kind == "func" and item.signature else None
