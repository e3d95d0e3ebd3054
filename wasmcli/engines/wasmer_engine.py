"""The wasmer adapter (Cranelift), given wasmtime's guarantees by wasmcli itself.

wasmer 1.1.0 has no fuel, no interrupt and no store limits, so:
- fuel: the module is instrumented before compiling (the `Fuel` pass): an exported i64
  global counts the remaining fuel down with wasmtime's cost model and checks; a trap
  that left FUEL_EXHAUSTED in it is out_of_fuel;
- memory cap: the declared maxima of every memory and table are lowered so that all
  of them together fit the cap (`ResourceLimit`, the same rewrite wasmtime compiles),
  which wasmer enforces on `memory.grow` and `table.grow`;
- call depth: counted in the module (`CallDepth`), as on wasmtime; the fuel pass comes
  last and meters its code too, which it refunds (engines/instrumented.py);
- timeout: wasmer's calls hold the GIL, so the executor runs this adapter in a child
  process that the parent kills at the deadline (`needs_isolation`, engines/isolation.py).
Compiled modules are cached with `Module.serialize`; the cache verifies each artifact's
checksum before `deserialize`, because a truncated artifact crashes the process.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import wasmer
import wasmer_compiler_cranelift

from wasmcli.engines import faults
from wasmcli.engines.base import (
    Engine,
    EngineLimits,
    HostLog,
    LoadedModule,
    PluginInstance,
)
from wasmcli.engines.demangle import demangle
from wasmcli.engines.imports import check_imports
from wasmcli.engines.instrumented import Instrumentation
from wasmcli.engines.profiler import FuelProfiler, depth_refund
from wasmcli.engines.traps import clip_backtrace, describe_trap, first_line
from wasmcli.engines.versions import installed_version
from wasmcli.errors import WasmcliError
from wasmcli.wasm import FUEL_EXHAUSTED, FUEL_EXPORT, START_EXPORT, Fuel, FuncType
from wasmcli.wasm.profile import ENTER, EXIT, PROFILE_MODULE

if TYPE_CHECKING:
    from wasmcli.wasm import Pass

_TYPE_NAMES = {1: "i32", 2: "i64", 3: "f32", 4: "f64", 5: "v128", 6: "externref", 7: "funcref"}
_FRAME = re.compile(r"^\s*at (?P<name>.+?) \(<module>\[(?P<index>\d+)\]:(?P<offset>0x[0-9a-f]+)\)")


@lru_cache(maxsize=1)
def _store() -> wasmer.Store:
    return wasmer.Store(wasmer.engine.Universal(wasmer_compiler_cranelift.Compiler))


@lru_cache(maxsize=1)
def _version() -> str:
    # Read once per process: the version is wanted three times a run.
    wasmer_version = installed_version("wasmer", wasmer.__file__)
    cranelift = installed_version("wasmer-compiler-cranelift", wasmer_compiler_cranelift.__file__)
    return f"{wasmer_version}+cranelift{cranelift}"


class WasmerEngine(Engine):
    name = "wasmer"
    needs_isolation = True

    @property
    def version(self) -> str:
        return _version()

    def start(self) -> None:
        _store()

    def passes(self, limits: EngineLimits) -> tuple[Pass, ...]:
        # wasmer has no fuel of its own: the fuel pass, last, meters every operator.
        return (*super().passes(limits), Fuel())

    def compile_settings(self, limits: EngineLimits) -> tuple[object, ...]:
        return ()

    def validate(self, wasm: bytes) -> None:
        store = _store()
        if not wasmer.Module.validate(store, wasm):
            raise faults.compile_error(_compile_message(store, wasm))

    def compile(self, wasm: bytes, limits: EngineLimits) -> wasmer.Module:
        # Validate the plugin as written first, so compile errors name its own bytes.
        self.validate(wasm)
        store = _store()
        prepared = self.prepare(wasm, limits)
        try:
            return wasmer.Module(store, prepared)
        except Exception as exc:  # noqa: BLE001 - wasmer raises plain exceptions
            raise faults.compile_error(first_line(str(exc))) from None

    def deserialize(self, artifact: bytes) -> wasmer.Module | None:
        try:
            return wasmer.Module.deserialize(_store(), artifact)
        except Exception:  # noqa: BLE001 - a stale artifact: recompile
            return None

    def instantiate(
        self, module: LoadedModule, limits: EngineLimits, host_log: HostLog
    ) -> WasmerInstance:
        return WasmerInstance(module.native, limits, host_log, module.source)


def _compile_message(store: wasmer.Store, wasm: bytes) -> str:
    try:
        wasmer.Module(store, wasm)
    except Exception as exc:  # noqa: BLE001
        text = first_line(str(exc))
        return text.removeprefix("Validation error: ").removeprefix("RuntimeError: ")
    return "invalid module"


def _instantiate_error(text: str) -> WasmcliError:
    """wasmer.Instance's failure. The start function runs later (the fuel pass made it
    an export), so an out-of-bounds access here is a segment being placed."""
    if "out of bounds memory access" in text:
        return faults.segment_out_of_bounds(table=False)
    if "out of bounds table access" in text:
        return faults.segment_out_of_bounds(table=True)
    return faults.instantiate_failed(text)


def _signature(ty: Any) -> FuncType | None:
    if isinstance(ty, wasmer.FunctionType):
        return FuncType(
            tuple(_TYPE_NAMES.get(int(p), str(p)) for p in ty.params),
            tuple(_TYPE_NAMES.get(int(r), str(r)) for r in ty.results),
        )
    return None


def _profiler(limits: EngineLimits, counter: Any) -> FuelProfiler:
    """The run's profiler; in an isolation child handed a journal, one that keeps its
    events there too, so that the parent still has them if it kills this process."""
    from wasmcli.engines.isolation import inherited
    from wasmcli.engines.profile_journal import JournaledProfiler, ProfileJournal

    fuel = limits.fuel

    def read_fuel() -> int:
        return fuel - int(counter.value)

    refund = depth_refund(limits.max_call_depth)
    journal = inherited()
    if isinstance(journal, ProfileJournal):
        return JournaledProfiler(read_fuel, refund, journal)
    return FuelProfiler(read_fuel, refund)


class WasmerInstance(PluginInstance):
    def __init__(
        self, module: wasmer.Module, limits: EngineLimits, host_log: HostLog, source: bytes
    ) -> None:
        self.limits = limits
        self._host_log = host_log
        self.source = source
        self.profiler = None
        check_imports(
            (imp.module, imp.name, _signature(imp.type))
            for imp in module.imports
            if not (limits.profile and imp.module == PROFILE_MODULE)
        )
        imports = wasmer.ImportObject()
        if any(imp.module == "host" for imp in module.imports):
            log_type = wasmer.FunctionType([wasmer.Type.I32, wasmer.Type.I32], [])
            imports.register("host", {"log": wasmer.Function(_store(), self._log, log_type)})
        if limits.profile:
            imports.register(PROFILE_MODULE, self._profile_imports())
        try:
            self.instance = wasmer.Instance(module, imports)
        except Exception as exc:  # noqa: BLE001
            raise _instantiate_error(first_line(str(exc))) from None
        self.exports = self.instance.exports
        self._fuel = self._export(FUEL_EXPORT)
        if not isinstance(self._fuel, wasmer.Global):
            raise faults.missing_instrumentation(FUEL_EXPORT)
        self._fuel.value = limits.fuel
        if limits.profile:
            self.profiler = _profiler(limits, self._fuel)
        self._fuel_unknown = False
        self._out_of_fuel = False
        self._instrumentation = Instrumentation.of_instance(
            limits.max_call_depth, self._global_value, limits.profile
        )
        memory = self._export("memory")
        self._memory = memory if isinstance(memory, wasmer.Memory) else None
        start = self._export(START_EXPORT)
        if isinstance(start, wasmer.Function):
            try:
                self._invoke(start)
            except WasmcliError as error:
                raise self.keep_start_profile(faults.start_failed(error)) from None

    def _profile_imports(self) -> dict[str, wasmer.Function]:
        # The profiler exists once the instance does: no event comes before (the start
        # function runs from __wasmcli_start, called below).
        def enter(function: int) -> None:
            assert self.profiler is not None
            self.profiler.enter(function)

        def exit_() -> None:
            assert self.profiler is not None
            self.profiler.exit()

        store = _store()
        return {
            ENTER: wasmer.Function(store, enter, wasmer.FunctionType([wasmer.Type.I32], [])),
            EXIT: wasmer.Function(store, exit_, wasmer.FunctionType([], [])),
        }

    def _export(self, name: str) -> Any:
        try:
            return getattr(self.exports, name)
        except (AttributeError, LookupError):
            return None

    # -- host.log -------------------------------------------------------------------

    def _log(self, ptr: int, length: int) -> None:
        if self._memory is None:
            raise faults.log_without_memory()
        start, size = faults.log_range(ptr, length, self._memory.data_size)
        self._host_log.check_room(size)  # before a byte is copied
        # A fresh view each time: growing memory invalidates earlier ones. A memoryview
        # slice copies once, in C (uint8_view slices build a list of ints first).
        self._host_log(bytes(memoryview(self._memory.buffer)[start : start + size]))

    # -- memory ---------------------------------------------------------------------

    def _mem(self) -> wasmer.Memory:
        if self._memory is None:
            raise faults.missing_memory()
        return self._memory

    def memory_pages(self) -> int:
        return int(self._mem().size)

    def memory_max_pages(self) -> int | None:
        maximum = self._mem().type.maximum
        return None if maximum is None else int(maximum)

    def grow_memory(self, delta_pages: int) -> int | None:
        try:
            return int(self._mem().grow(delta_pages))
        except Exception:  # noqa: BLE001 - wasmer raises RuntimeError when it cannot grow
            return None

    def read_memory(self, ptr: int, length: int) -> bytes:
        faults.check_range(ptr, length, self._mem().data_size)
        return bytes(memoryview(self._mem().buffer)[ptr : ptr + length])

    def write_memory(self, ptr: int, data: bytes) -> None:
        faults.check_range(ptr, len(data), self._mem().data_size)
        if data:
            memoryview(self._mem().buffer)[ptr : ptr + len(data)] = data

    # -- calls ----------------------------------------------------------------------

    def has_function(self, name: str) -> bool:
        return isinstance(self._export(name), wasmer.Function)

    def call(self, name: str, *args: int) -> int | None:
        func = self._export(name)
        if not isinstance(func, wasmer.Function):
            raise faults.missing_function(name)
        result = self._invoke(func, *args)
        return None if result is None else int(result)

    def _invoke(self, func: wasmer.Function, *args: int) -> Any:
        try:
            return func(*args)
        except WasmcliError:
            raise  # from host.log: output cap, bad UTF-8, out-of-bounds range
        except Exception as exc:  # noqa: BLE001 - wasmer traps are RuntimeError
            if int(self._fuel.value) == FUEL_EXHAUSTED:
                self._out_of_fuel = True
                raise faults.out_of_fuel(self.limits.fuel, _backtrace(exc)) from None
            # The plugin's own trap (the call-depth limit's too): functions write their
            # count back only at calls and returns (as wasmtime does), so the fuel of the
            # trapping code is not known.
            self._fuel_unknown = True
            depth = self._instrumentation
            if depth is not None and depth.max_depth is not None and depth.depth_exceeded():
                raise faults.call_depth_exceeded(depth.max_depth, _backtrace(exc)) from None
            raise faults.trapped(describe_trap(first_line(str(exc))), _backtrace(exc)) from None

    def fuel_consumed(self) -> int | None:
        if self._fuel_unknown:
            return None
        if self._out_of_fuel:
            return self.limits.fuel
        counted = self.limits.fuel - max(int(self._fuel.value), 0)
        depth = self._instrumentation
        return counted if depth is None else counted - depth.fuel()

    def _global_value(self, name: str) -> int:
        glob = self._export(name)
        if not isinstance(glob, wasmer.Global):
            raise faults.missing_instrumentation(name)
        return int(glob.value)


def _backtrace(exc: Exception) -> list[str]:
    # wasmer's message lists frames as "    at name (<module>[3]:0x74)"; a stack
    # overflow lists tens of thousands, so only the head is read.
    frames = []
    for line in str(exc)[:20000].splitlines()[1:]:
        match = _FRAME.match(line)
        if match:
            name = demangle(match["name"])
            if name == "<unnamed>":
                name = f"<wasm function {match['index']}>"
            frames.append(f"{name} @ {match['offset']}")
    return clip_backtrace(frames)
