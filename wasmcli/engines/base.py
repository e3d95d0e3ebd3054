"""The small interface every engine adapter implements.

The executor and the ABI session only ever talk to these classes; an adapter translates
its engine's exceptions into `WasmcliError` kinds, so nothing above it knows which
engine ran. Adapters: `wasmtime_engine.py`, `wasmer_engine.py`.
"""

from __future__ import annotations

import atexit
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wasmcli.config import DEFAULT_MAX_CALL_DEPTH
from wasmcli.engines.faults import above_limit, compile_error
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.store.blobs import sha256_hex
from wasmcli.store.cache import ArtifactCache
from wasmcli.wasm import (
    ResourceLimit,
    ResourcesAboveLimit,
    WasmFormatError,
    check_declared,
)

if TYPE_CHECKING:
    from wasmcli.engines.profiler import FuelProfiler
    from wasmcli.wasm import OffsetMap, Pass

WASM_PAGE_SIZE = 65536
MIB = 1024 * 1024
# The longest a module may take to compile, on either engine (exit 3, load). The
# plugin's --timeout-ms covers only its own code: instantiation (the start function),
# alloc and process.
COMPILE_LIMIT_S = 60.0
# Part of every compiled-artifact key: bump it when the proposal check accepts something
# else, so that no artifact compiled before the check is loaded unchecked.
PROPOSAL_CHECK = 1


class HostLog(Protocol):
    """Where each `host.log(ptr, len)` goes. The adapter checks the range against the
    plugin's memory (a trap), then asks `check_room(len)` before it copies a byte (a
    line past the output cap is refused at its length), then hands over the bytes."""

    def check_room(self, size: int) -> None: ...

    def __call__(self, raw: bytes) -> None: ...


@dataclass(frozen=True)
class EngineLimits:
    """The limits one run is held to."""

    fuel: int
    timeout_ms: int
    memory_limit_bytes: int
    # None: no call-depth count, the engines' native stacks alone (wasmcli's runs always
    # count; tests and benchmarks compare with a run that does not).
    max_call_depth: int | None = DEFAULT_MAX_CALL_DEPTH
    # `run --profile`: compiled with the profiling pass (wasm/profile.py), whose events
    # feed an engines.profiler.FuelProfiler.
    profile: bool = False

    @property
    def memory_limit_pages(self) -> int:
        return self.memory_limit_bytes // WASM_PAGE_SIZE


class PluginInstance(ABC):
    """An instantiated plugin: its exported memory and functions, under the run's limits."""

    limits: EngineLimits
    source: bytes = b""  # the plugin's own bytes: its names, for the profile
    profiler: FuelProfiler | None = None  # `run --profile` only

    @abstractmethod
    def memory_pages(self) -> int:
        """Current size of the exported memory, in 64 KiB pages."""

    @abstractmethod
    def memory_max_pages(self) -> int | None:
        """Declared maximum of the exported memory, or None when it has none."""

    @abstractmethod
    def grow_memory(self, delta_pages: int) -> int | None:
        """Grow the memory; the old size in pages, or None when the growth is refused."""

    @abstractmethod
    def read_memory(self, ptr: int, length: int) -> bytes:
        """Read bytes; a range outside memory raises WasmcliError(TRAP)."""

    @abstractmethod
    def write_memory(self, ptr: int, data: bytes) -> None:
        """Write bytes; a range outside memory raises WasmcliError(TRAP)."""

    @abstractmethod
    def has_function(self, name: str) -> bool:
        """Whether the module exports a function of that name."""

    @abstractmethod
    def call(self, name: str, *args: int) -> int | None:
        """Call an exported function under the run's deadline and fuel.

        Returns its i32 result (None for no result); every failure is a WasmcliError
        with the kind of docs/design.md section 3 and, for traps, the wasm backtrace.
        """

    def profile(self, outcome: str, fuel_consumed: int | None) -> dict[str, Any] | None:
        """The run's fuel profile (`run --profile`), None when it is not profiled;
        `outcome` as `FuelProfiler.finish` takes it."""
        if self.profiler is None:
            return None
        from wasmcli.engines.profiler import module_names

        result: dict[str, Any] = self.profiler.finish(
            outcome, fuel_consumed, module_names(self.source)
        )
        return result

    def keep_start_profile(self, error: WasmcliError) -> WasmcliError:
        """`error`, a start function's failure, carrying the profile up to it: the session
        has no instance to ask for it then. The fuel of a run out of fuel is its limit,
        wherever it ran out; after any other failure it is not known."""
        fuel = self.limits.fuel if error.kind is ErrorKind.OUT_OF_FUEL else None
        error.profile = self.profile(error.kind.value, fuel)
        return error

    @abstractmethod
    def fuel_consumed(self) -> int | None:
        """Fuel consumed so far by this instance (instantiation and calls).

        None when the engine cannot tell (wasmtime does not write back the fuel of the
        running code when it is interrupted or traps).
        """

    def close(self) -> None:  # noqa: B027 - most adapters hold nothing to release
        """Release what the instance holds (timers); safe to call twice."""


@dataclass(frozen=True)
class LoadedModule:
    """A compiled module, ready to be instantiated by the engine that compiled it."""

    native: Any  # the engine's own module object
    from_cache: bool  # whether the compiled artifact came from the on-disk cache
    source: bytes = b""  # the plugin's own bytes (its file offsets name backtrace frames)


class Engine(ABC):
    """One WebAssembly engine, configured for wasmcli's limits."""

    name: str
    # True when a call cannot be interrupted from inside the process (wasmer holds the
    # GIL): the executor then runs the session in a child process killed at the deadline.
    needs_isolation: bool = False

    @property
    @abstractmethod
    def version(self) -> str:
        """The engine package's version, part of every compiled-artifact cache key."""

    def start(self) -> None:  # noqa: B027 - an engine with nothing to start keeps this
        """Create the engine's runtime, configured for wasmcli's limits, ahead of loading
        a module (cheap once done): the trace times it apart from compiling."""

    def load(
        self,
        wasm: bytes,
        limits: EngineLimits,
        cache: ArtifactCache | None,
        *,
        keep: bool = False,
    ) -> LoadedModule:
        """Compile a module, or load it from the cache; compile errors are WasmcliError(LOAD).

        The cache hands back only an artifact whose header names this module's hash and
        this engine configuration (`cache_config`: the engine's version, every bytecode
        pass the module is compiled through, with the pass's version and settings, and
        the engine's own settings), intact and written by this user; so `deserialize`
        never sees another module's code, a damaged file, a stale build, or code compiled
        for another limit. `keep`: the module stays in this process's memory, and one
        kept there (under the same configuration) is used without reading the cache.
        """
        settings = self.compiled_with(limits)
        memory = _LOADED if keep else _NOT_KEPT
        # Compiled or loaded by this process already, or by the daemon that forked it.
        loaded = memory.get(self.name, wasm, settings) or _PRELOADED.get(self.name, wasm, settings)
        if loaded is not None:
            return loaded
        _refuse_above_limit(wasm, limits)  # before any engine sees it, on every engine
        module_sha256 = sha256_hex(wasm)  # of the bytes compiled, not a caller's word
        config = self.cache_config(limits)
        artifact = cache.load(module_sha256, config) if cache is not None else None
        if artifact is not None:
            native = self.deserialize(artifact)
            if native is not None:
                return memory.put(self.name, wasm, settings, LoadedModule(native, True, wasm))
        _refuse_unsupported(wasm)  # a cached artifact passed this check when compiled
        native = self.compile(wasm, limits)
        if cache is not None:
            cache.store(module_sha256, config, self.serialize(native))
        return memory.put(self.name, wasm, settings, LoadedModule(native, False, wasm))

    def compiled_with(self, limits: EngineLimits) -> tuple[object, ...]:
        """Everything besides the module that changes its compiled code: every pass's key
        (its name, version and settings: the memory cap, the call-depth limit) and the
        engine's own settings."""
        from wasmcli.wasm import cache_key_parts

        return (*cache_key_parts(self.passes(limits)), *self.compile_settings(limits))

    def preload(self, wasm: bytes, limits: EngineLimits, cache: ArtifactCache) -> bool:
        """Keep in this process's memory the compiled module that the cache holds for
        `wasm`, ready for `load` to hand out; True when it is there. Nothing is compiled:
        a daemon's main process calls this, and it must start no compiler threads before
        it forks (wasmcli/daemon/warmup.py)."""
        settings = self.compiled_with(limits)
        if _PRELOADED.get(self.name, wasm, settings) is not None:
            return True
        artifact = cache.load(sha256_hex(wasm), self.cache_config(limits))
        native = self.deserialize(artifact) if artifact is not None else None
        if native is None:
            return False
        self.link_ahead(native, limits)
        _PRELOADED.put(self.name, wasm, settings, LoadedModule(native, True, wasm))
        return True

    def link_ahead(self, native: Any, limits: EngineLimits) -> None:  # noqa: B027
        """Work out once what every instance of a loaded module shares (its linked
        imports); WasmcliError when its imports are wrong."""

    def cache_config(self, limits: EngineLimits) -> str:
        """The engine's name, version, the proposal check's version (a cached artifact
        passed that check) and what it was compiled with: what an artifact is bound to."""
        settings = [f"proposals-{PROPOSAL_CHECK}", *map(str, self.compiled_with(limits))]
        return " ".join([self.name, self.version, *settings])

    @abstractmethod
    def validate(self, wasm: bytes) -> None:
        """Check a module fully (structure and types) with the engine's own validator;
        WasmcliError(LOAD) when invalid."""

    def passes(self, limits: EngineLimits) -> tuple[Pass, ...]:
        """The bytecode passes this engine compiles a plugin through, in order
        (wasm/pipeline.py): the memory cap and the call-depth limit on every engine."""
        from wasmcli.wasm import CallDepth

        depth = () if limits.max_call_depth is None else (CallDepth(limits.max_call_depth),)
        if limits.profile:
            from wasmcli.wasm.profile import FuelProfile

            return (ResourceLimit(limits.memory_limit_bytes), *depth, FuelProfile())
        return (ResourceLimit(limits.memory_limit_bytes), *depth)

    def prepare(self, wasm: bytes, limits: EngineLimits) -> bytes:
        """The module this engine compiles: `wasm` through `passes` (see `prepared`)."""
        return prepared(wasm, self.passes(limits))[0]

    def offset_map(self, wasm: bytes, limits: EngineLimits) -> OffsetMap | None:
        """How to read offsets in the compiled module as offsets in the plugin's own bytes
        (None when the module cannot be rewritten)."""
        try:
            return prepared(wasm, self.passes(limits))[1]
        except WasmcliError:
            return None

    @abstractmethod
    def compile_settings(self, limits: EngineLimits) -> tuple[object, ...]:
        """Everything besides the module, the version and the passes that changes the
        compiled code (the engine's own configuration)."""

    @abstractmethod
    def compile(self, wasm: bytes, limits: EngineLimits) -> Any:
        """The engine's compiled module; WasmcliError(LOAD) when the module is invalid.

        Adapters compile `self.prepare(wasm, limits)`, never the plugin's bytes as they are.
        """

    def serialize(self, native: Any) -> bytes:
        """A compiled module as bytes for the cache (both engines' modules serialize)."""
        return bytes(native.serialize())

    @abstractmethod
    def deserialize(self, artifact: bytes) -> Any | None:
        """A compiled module from the cache, or None when this engine build cannot load it."""

    @abstractmethod
    def instantiate(
        self, module: LoadedModule, limits: EngineLimits, host_log: HostLog
    ) -> PluginInstance:
        """Instantiate with `host.log` as the only import, under the limits.

        Arms the wall-clock deadline (it covers the start function too). Unknown imports
        and a failing start function are WasmcliError(ABI).
        """


def _refuse_unsupported(wasm: bytes) -> None:
    """One verdict on both engines: a proposal that not both run is refused by name
    (wasm.features), before either engine sees the module."""
    from wasmcli.wasm import UnsupportedProposal, check_supported

    try:
        check_supported(wasm)
    except UnsupportedProposal as exc:
        raise compile_error(f"it {exc}") from None
    except WasmFormatError:
        pass  # the engine says what is wrong with it, in its own words


class _LoadedModules:
    """The modules this process has compiled or loaded, newest kept: a batch (or a daemon)
    runs the same module many times, and reading the artifact cache costs a file read and
    a checksum per run. Keyed by the module's bytes (Python caches a bytes object's
    hash, so the same object looks up in constant time) and the engine settings."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._modules: OrderedDict[tuple[object, ...], LoadedModule] = OrderedDict()

    def get(self, engine: str, wasm: bytes, settings: tuple[object, ...]) -> LoadedModule | None:
        key = (engine, wasm, settings)
        module = self._modules.get(key)
        if module is not None:
            self._modules.move_to_end(key)
            return LoadedModule(module.native, True, module.source)
        return None

    def clear(self) -> None:
        self._modules.clear()

    def put(
        self, engine: str, wasm: bytes, settings: tuple[object, ...], module: LoadedModule
    ) -> LoadedModule:
        self._modules[(engine, wasm, settings)] = module
        while len(self._modules) > self.size:
            self._modules.popitem(last=False)
        return module


_LOADED = _LoadedModules(size=8)
_NOT_KEPT = _LoadedModules(size=0)  # a single run keeps nothing
# Loaded ahead by a daemon's main process (`Engine.preload`), for every process it forks;
# empty in any other process.
_PRELOADED = _LoadedModules(size=8)
# Dropped before the interpreter tears modules down: an engine's module freed after its
# bindings are gone prints "Exception ignored in ... __del__" at exit.
atexit.register(_LOADED.clear)
atexit.register(_PRELOADED.clear)


def _refuse_above_limit(wasm: bytes, limits: EngineLimits) -> None:
    try:
        check_declared(wasm, limits.memory_limit_bytes)
    except ResourcesAboveLimit as exc:
        raise above_limit(exc.initial_bytes, exc.limit_bytes).at(stage="abi_check") from None
    except WasmFormatError:
        pass  # the engine says what is wrong with it, in its own words


def prepared(wasm: bytes, passes: Sequence[Pass]) -> tuple[bytes, OffsetMap]:
    """The module rewritten by `passes`, and its offset map. Above the memory cap at
    start-up: memory_limit; a module a pass cannot read or refuses: load."""
    from wasmcli.wasm import apply_passes

    try:
        rewritten = apply_passes(wasm, passes)
    except ResourcesAboveLimit as exc:
        raise above_limit(exc.initial_bytes, exc.limit_bytes).at(stage="abi_check") from None
    except WasmFormatError as exc:
        raise compile_error(str(exc)) from None
    return rewritten.wasm, rewritten.offset_map()
