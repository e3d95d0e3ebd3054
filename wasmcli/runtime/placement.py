"""Where the input and env bytes go in the plugin's memory (docs/design.md section 1).

1. The plugin exports `alloc(len) -> ptr`: call it for each buffer.
2. Otherwise grow the memory by enough fresh pages and put input then env there; a
   plugin's own allocator grows memory itself later and never overlaps these pages.
3. Where the memory cannot grow but the bytes fit, write them at offset 0, the layout
   existing WASM Core plugins were built against. Else fail, saying which limit stopped it.
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmcli.engines.base import WASM_PAGE_SIZE, EngineLimits, PluginInstance
from wasmcli.errors import ErrorKind, WasmcliError


@dataclass(frozen=True)
class Placement:
    ptr: int
    length: int
    method: str  # "alloc", "fresh_pages" or "offset_0"
    pages_before: int
    pages_after: int

    def metadata(self) -> dict[str, object]:
        return {
            "ptr": self.ptr,
            "bytes": self.length,
            "placement": self.method,
            "pages_before": self.pages_before,
            "pages_after": self.pages_after,
        }


def place_with_alloc(instance: PluginInstance, data: bytes, what: str) -> Placement:
    before = instance.memory_pages()
    result = instance.call("alloc", len(data))
    if result is None:
        raise WasmcliError(ErrorKind.ABI, "`alloc` returned no value; expected alloc(i32) -> i32")
    ptr = result & 0xFFFFFFFF
    after = instance.memory_pages()
    if ptr + len(data) > after * WASM_PAGE_SIZE or (ptr == 0 and data):
        raise WasmcliError(
            ErrorKind.ABI,
            f"`alloc({len(data)})` for the {what} returned {ptr}, which is not a usable "
            f"buffer in the plugin's memory ({after} pages)",
        )
    instance.write_memory(ptr, data)
    return Placement(ptr, len(data), "alloc", before, after)


def place_without_alloc(
    instance: PluginInstance, input_bytes: bytes, env_bytes: bytes, limits: EngineLimits
) -> tuple[Placement, Placement]:
    total = len(input_bytes) + len(env_bytes)
    before = instance.memory_pages()
    needed_pages = -(-total // WASM_PAGE_SIZE)
    if needed_pages == 0 or instance.grow_memory(needed_pages) is not None:
        base = before * WASM_PAGE_SIZE
        method = "fresh_pages"
    elif total <= before * WASM_PAGE_SIZE:
        base = 0
        method = "offset_0"
    else:
        raise _does_not_fit(total, before, needed_pages, instance.memory_max_pages(), limits)
    after = instance.memory_pages()
    instance.write_memory(base, input_bytes)
    instance.write_memory(base + len(input_bytes), env_bytes)
    return (
        Placement(base, len(input_bytes), method, before, after),
        # One growth made room for both; it is the input's, so the env's write shows none.
        Placement(base + len(input_bytes), len(env_bytes), method, after, after),
    )


def _does_not_fit(
    total: int, pages: int, needed: int, declared_max: int | None, limits: EngineLimits
) -> WasmcliError:
    if (
        declared_max is not None
        and pages + needed > declared_max
        and (declared_max <= limits.memory_limit_pages)
    ):
        reason = f"its declared maximum is {_pages(declared_max)}"
    else:
        reason = f"growing it would pass the {limits.memory_limit_bytes // 2**20} MB limit"
    return WasmcliError(
        ErrorKind.MEMORY_LIMIT,
        f"Memory limit exceeded: the input and env need {total:,} bytes, the plugin's "
        f"memory is {_pages(pages)} and cannot grow: {reason}",
    )


def _pages(count: int) -> str:
    return f"{count} page{'s' if count != 1 else ''} ({count * 64} KiB)"
