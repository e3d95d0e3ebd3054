"""The wasmtime adapter: native fuel, epoch-interruption timeouts, store memory limits.

Every run shares the process's one epoch ticker (engines/epoch.py) and keeps its own
deadline: a store's epoch callback stops its plugin at that run's deadline, or when a
Ctrl-C, SIGTERM or SIGHUP arrives. wasmtime compiles the plugin through the passes every
engine uses (`Engine.passes`): the memory cap is the rewritten module's declared maxima,
with store limits as a second fence, and the call-depth limit is counted in the module,
whose code refunds the native fuel it costs (engines/instrumented.py).
"""

from __future__ import annotations

import atexit
import ctypes
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import wasmtime
from wasmtime import _ffi
from wasmtime._func import enter_wasm

from wasmcli.engines import base, faults
from wasmcli.engines.base import (
    Engine,
    EngineLimits,
    HostLog,
    LoadedModule,
    PluginInstance,
)
from wasmcli.engines.compile_worker import IN_WORKER_BYTES, compile_in_worker, serve
from wasmcli.engines.demangle import demangle
from wasmcli.engines.epoch import DeferredSignals, Run, Ticker, install_callback
from wasmcli.engines.imports import check_imports
from wasmcli.engines.instrumented import Instrumentation
from wasmcli.engines.profiler import FuelProfiler, depth_refund
from wasmcli.engines.traps import (
    caused_by,
    clip_backtrace,
    describe_trap,
    first_line,
)
from wasmcli.engines.versions import installed_version
from wasmcli.errors import ErrorKind, WasmcliError, stopped_by_signal
from wasmcli.wasm import TABLE_ELEMENT_BYTES, FuncType, OffsetMap
from wasmcli.wasm.profile import ENTER, EXIT, PROFILE_MODULE

# Everything in the engine config that changes compiled code belongs in the cache key.
_CONFIG_FINGERPRINT = "consume_fuel=1;epoch_interruption=1"
# A frame of wasmtime's error text: "    0:     0x1e - plugin!process".
_TEXT_FRAME = re.compile(r"^\s*\d+:\s+(?P<offset>0x[0-9a-f]+) - (?:[^!\n]*!)?(?P<name>.+)$")


@lru_cache(maxsize=1)
def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    return wasmtime.Engine(config)


@lru_cache(maxsize=1)
def _version() -> str:
    # Read once per process: the version is wanted three times a run (the cache folder,
    # the cache key, the trace).
    return installed_version("wasmtime", wasmtime.__file__)


@lru_cache(maxsize=1)
def _ticker() -> Ticker:
    """The epoch clock of `_engine()`: one per process, started by the first run."""
    return Ticker(_engine().increment_epoch)


def validate(wasm: bytes) -> None:
    """Check a module fully (structure and types); WasmcliError(LOAD) when invalid."""
    try:
        wasmtime.Module.validate(_engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        raise faults.compile_error(_compile_message(exc)) from None


def compile_native(wasm: bytes) -> wasmtime.Module:
    """Compile in this thread (it cannot be interrupted: see compile_worker)."""
    try:
        return wasmtime.Module(_engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        raise faults.compile_error(_compile_message(exc)) from None


def _compile_message(exc: Exception) -> str:
    text = str(exc)
    head, cause = first_line(text), caused_by(text)
    return head if head == cause else f"{head}: {cause}"


class WasmtimeEngine(Engine):
    name = "wasmtime"
    needs_isolation = False

    @property
    def version(self) -> str:
        return _version()

    def start(self) -> None:
        _engine()

    def compile_settings(self, limits: EngineLimits) -> tuple[object, ...]:
        return (_CONFIG_FINGERPRINT,)

    def validate(self, wasm: bytes) -> None:
        validate(wasm)

    def compile(self, wasm: bytes, limits: EngineLimits) -> wasmtime.Module:
        # The plugin as written first: its errors then name its own bytes, and no pass can
        # make an invalid module valid (a global index one past the plugin's own would
        # otherwise reach the call-depth counter the pass appends).
        self.validate(wasm)
        prepared = self.prepare(wasm, limits)
        if len(prepared) < IN_WORKER_BYTES:
            return compile_native(prepared)
        # Large: compiled where it can be stopped at the compile limit.
        artifact = compile_in_worker(prepared, base.COMPILE_LIMIT_S, module=__name__)
        module = self.deserialize(artifact)
        if module is None:
            raise faults.compile_error("the compiling process wrote an unreadable module")
        return module

    def deserialize(self, artifact: bytes) -> wasmtime.Module | None:
        try:
            return wasmtime.Module.deserialize(_engine(), artifact)
        except wasmtime.WasmtimeError:
            return None  # another wasmtime build wrote it: recompile and overwrite

    def link_ahead(self, native: wasmtime.Module, limits: EngineLimits) -> None:
        _prepare(native, limits.profile)

    def instantiate(
        self, module: LoadedModule, limits: EngineLimits, host_log: HostLog
    ) -> WasmtimeInstance:
        return WasmtimeInstance(self, module, limits, host_log)


class WasmtimeInstance(PluginInstance):
    def __init__(
        self,
        engine: WasmtimeEngine,
        module: LoadedModule,
        limits: EngineLimits,
        host_log: HostLog,
    ) -> None:
        native: wasmtime.Module = module.native
        self.limits = limits
        self._engine = engine
        self._source = module.source
        self._offsets: OffsetMap | None = None
        self._instrumentation: Instrumentation | None = None
        self.store = wasmtime.Store(_engine())
        # A second fence behind the rewritten maxima (store limits count per memory and
        # per table, so alone they would not bound the total).
        self.store.set_limits(
            memory_size=limits.memory_limit_bytes,
            table_elements=limits.memory_limit_bytes // TABLE_ELEMENT_BYTES,
        )
        self.store.set_fuel(limits.fuel)
        self._host_log = host_log
        self._memory: wasmtime.Memory | None = None
        # Compiled code keeps its fuel count in a register and writes it back at calls
        # and returns; after a trap or an interrupt the store's count is stale.
        self._fuel_unknown = False
        self._out_of_fuel = False
        self.source = module.source
        self.profiler = None
        if limits.profile:
            fuel, store = limits.fuel, self.store
            self.profiler = FuelProfiler(
                lambda: fuel - store.get_fuel(), depth_refund(limits.max_call_depth)
            )
        prepared = _prepare(native, limits.profile)  # its imports checked once per module
        self._i32_exports = prepared.i32_exports
        self._run: Run | None = _ticker().attach(limits.timeout_ms)
        self._signals = DeferredSignals(self._run)
        self._callback = install_callback(self.store, self._run)
        failure: WasmcliError | None = None
        try:
            with self._signals, _running(self):
                self.instance = prepared.instance_pre.instantiate(self.store)
            self._raise_if_signalled()
        except WasmcliError as error:  # from host.log in the start function
            failure = faults.start_failed(error)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            # Read before close(): a start function stopped at the deadline is a timeout.
            failure = self._instantiate_error(exc)
        except BaseException:
            self.close()
            raise
        if failure is not None:
            self.close()
            raise self.keep_start_profile(failure)
        self.exports = self.instance.exports(self.store)
        memory = self.exports.get("memory")
        self._memory = memory if isinstance(memory, wasmtime.Memory) else None
        try:
            self._instrumentation = Instrumentation.of_instance(
                limits.max_call_depth, self._global_value, limits.profile
            )
        except WasmcliError:
            self.close()
            raise

    # -- host.log -------------------------------------------------------------------

    def log(self, caller: wasmtime.Caller, ptr: int, length: int) -> None:
        # The export lookup is the slowest part of a host call; do it once (a start
        # function can log before the instance, and so self._memory, exists).
        memory = self._memory if self._memory is not None else caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise faults.log_without_memory()
        start, size = faults.log_range(ptr, length, memory.data_len(caller))
        self._host_log.check_room(size)  # before a byte is copied
        # string_at copies straight from linear memory (bounds checked just above);
        # Memory.read would check the length and build a ctypes array again per call.
        base = ctypes.addressof(memory.data_ptr(caller).contents)
        self._host_log(ctypes.string_at(base + start, size))

    # -- memory ---------------------------------------------------------------------

    def _mem(self) -> wasmtime.Memory:
        if self._memory is None:
            raise faults.missing_memory()
        return self._memory

    def memory_pages(self) -> int:
        return int(self._mem().size(self.store))

    def memory_max_pages(self) -> int | None:
        maximum = self._mem().type(self.store).limits.max
        return None if maximum is None else int(maximum)

    def grow_memory(self, delta_pages: int) -> int | None:
        try:
            return int(self._mem().grow(self.store, delta_pages))
        except wasmtime.WasmtimeError:
            return None

    def read_memory(self, ptr: int, length: int) -> bytes:
        faults.check_range(ptr, length, self._mem().data_len(self.store))
        return bytes(self._mem().read(self.store, ptr, ptr + length))

    def write_memory(self, ptr: int, data: bytes) -> None:
        faults.check_range(ptr, len(data), self._mem().data_len(self.store))
        self._mem().write(self.store, data, ptr)

    # -- calls ----------------------------------------------------------------------

    def has_function(self, name: str) -> bool:
        return isinstance(self.exports.get(name), wasmtime.Func)

    def call(self, name: str, *args: int) -> int | None:
        func = self.exports.get(name)
        if not isinstance(func, wasmtime.Func):
            raise faults.missing_function(name)
        run = self._run
        if run is not None and run.stopped_by is not None:
            raise stopped_by_signal(run.stopped_by)
        if run is None or run.expired():
            raise faults.timed_out()
        shape = self._i32_exports.get(name)
        try:
            with self._signals, _running(self):
                if shape is not None and shape[0] == len(args):
                    result = _call_i32(self.store, func, args, shape[1])
                else:
                    result = func(self.store, *args)
        except wasmtime.Trap as trap:
            raise self._trap_error(trap) from None
        except wasmtime.WasmtimeError as exc:
            raise self._error(exc) from None
        self._raise_if_signalled()
        return None if result is None else int(result)

    def _raise_if_signalled(self) -> None:
        """A signal that came during a call that then ended on its own."""
        run = self._run
        if run is not None and run.stopped_by is not None:
            raise stopped_by_signal(run.stopped_by)

    def fuel_consumed(self) -> int | None:
        if self._fuel_unknown:
            return None
        if self._out_of_fuel:
            return self.limits.fuel
        counted = self.limits.fuel - int(self.store.get_fuel())
        if self._instrumentation is None:
            return counted
        return counted - self._instrumentation.fuel()

    def _global_value(self, name: str) -> int:
        glob = self.exports.get(name)
        if not isinstance(glob, wasmtime.Global):
            raise faults.missing_instrumentation(name)
        value = glob.value(self.store)
        assert isinstance(value, int)
        return value

    def close(self) -> None:
        run, self._run = self._run, None
        if run is not None:
            _ticker().detach(run)

    # -- errors ---------------------------------------------------------------------

    def _stopped(self, backtrace: list[str]) -> WasmcliError | None:
        """The error of a run its epoch callback stopped, or None."""
        run = self._run
        if run is None:
            return None
        if run.stopped_by is not None:
            error = stopped_by_signal(run.stopped_by)
            error.backtrace = backtrace
            return error
        if run.timed_out:
            return faults.timed_out(backtrace)
        return None

    def _trap_error(self, trap: wasmtime.Trap) -> WasmcliError:
        code = trap.trap_code
        self._fuel_unknown = code != wasmtime.TrapCode.OUT_OF_FUEL
        self._out_of_fuel = code == wasmtime.TrapCode.OUT_OF_FUEL
        backtrace = self._backtrace_of_frames(trap)
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return faults.out_of_fuel(self.limits.fuel, backtrace)
        if code == wasmtime.TrapCode.INTERRUPT:
            return self._stopped(backtrace) or faults.timed_out(backtrace)
        depth = self.limits.max_call_depth
        if depth is not None and code == wasmtime.TrapCode.UNREACHABLE:
            if self._depth_exceeded(trap):
                return faults.call_depth_exceeded(depth, backtrace)
        return faults.trapped(describe_trap(caused_by(str(trap.message))), backtrace)

    def _depth_exceeded(self, trap: wasmtime.Trap) -> bool:
        """Whether the call-depth limit's own `unreachable` trapped: its marker says so;
        in a start function, before there is an instance to read it from, the trap's
        place does (the only `unreachable` in code wasmcli inserts is that one)."""
        if self._instrumentation is not None:
            return self._instrumentation.depth_exceeded()
        frames = trap.frames or []
        offsets = self._offset_map()
        return bool(frames) and offsets is not None and offsets.inserted(frames[0].module_offset)

    def _error(self, exc: wasmtime.WasmtimeError) -> WasmcliError:
        """A WasmtimeError from a call: our epoch callback's stop, else a failure."""
        self._fuel_unknown = True
        text = str(exc)
        stopped = self._stopped(self._backtrace_of_text(text))
        if stopped is not None:
            return stopped
        return WasmcliError(ErrorKind.TRAP, f"Plugin failed: {caused_by(text)}")

    def _instantiate_error(self, exc: wasmtime.Trap | wasmtime.WasmtimeError) -> WasmcliError:
        if isinstance(exc, wasmtime.Trap):
            if not exc.frames and exc.trap_code in _SEGMENT_TRAPS:
                # No wasm frame: the segments were being placed, no start function ran.
                table = exc.trap_code is wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS
                return faults.segment_out_of_bounds(table=table)
            return faults.start_failed(self._trap_error(exc))
        stopped = self._stopped(self._backtrace_of_text(str(exc)))
        if stopped is not None:
            return stopped
        text = caused_by(str(exc))
        if "memory" in text and ("limit" in text or "minimum" in text):
            return WasmcliError(ErrorKind.MEMORY_LIMIT, f"Memory limit exceeded: {text}")
        return faults.instantiate_failed(text)

    # -- backtraces -----------------------------------------------------------------

    def _offset_map(self) -> OffsetMap | None:
        """Offsets in the compiled (rewritten) module as offsets in the plugin's file."""
        if self._offsets is None:
            self._offsets = self._engine.offset_map(self._source, self.limits)
        return self._offsets

    def _in_plugin(self, offset: int) -> int:
        offsets = self._offset_map()
        return offset if offsets is None else offsets.to_original(offset)

    def _backtrace_of_frames(self, trap: wasmtime.Trap) -> list[str]:
        lines = []
        for frame in trap.frames or []:
            name = (
                demangle(frame.func_name)
                if frame.func_name
                else f"<wasm function {frame.func_index}>"
            )
            offset = frame.module_offset
            if offset in (None, 2**64 - 1):
                lines.append(name)
            else:
                lines.append(f"{name} @ 0x{self._in_plugin(offset):x}")
        return clip_backtrace(lines)

    def _backtrace_of_text(self, text: str) -> list[str]:
        matches = [_TEXT_FRAME.match(line) for line in text[:20000].splitlines()]
        return clip_backtrace(
            [
                f"{demangle(f['name'])} @ 0x{self._in_plugin(int(f['offset'], 16)):x}"
                for f in matches
                if f
            ]
        )


# What placing a data or element segment out of bounds traps with at instantiation.
_SEGMENT_TRAPS = (wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS, wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS)

# The instance whose wasm code runs on this thread: host.log is defined once per module
# (in its linker) and hands each call to that instance. A thread runs one plugin call at
# a time, and host.log never calls back into wasm.
_ON_THREAD = threading.local()


@contextmanager
def _running(instance: WasmtimeInstance) -> Iterator[None]:
    previous = getattr(_ON_THREAD, "instance", None)
    _ON_THREAD.instance = instance
    try:
        yield
    finally:
        _ON_THREAD.instance = previous


def _host_log(caller: wasmtime.Caller, ptr: int, length: int) -> None:
    _ON_THREAD.instance.log(caller, ptr, length)


def _profile_enter(function: int) -> None:
    _ON_THREAD.instance.profiler.enter(function)


def _profile_exit() -> None:
    _ON_THREAD.instance.profiler.exit()


_LOG_TYPE = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
_ENTER_TYPE = wasmtime.FuncType([wasmtime.ValType.i32()], [])
_EXIT_TYPE = wasmtime.FuncType([], [])


@dataclass(frozen=True)
class _Prepared:
    instance_pre: wasmtime.InstancePre  # linked to host.log, ready for any store
    # Exported functions of i32 parameters and at most one i32 result: their parameter
    # and result counts, for `_call_i32`.
    i32_exports: dict[str, tuple[int, int]]


_PREPARED: OrderedDict[wasmtime.Module, _Prepared] = OrderedDict()


def _prepare(module: wasmtime.Module, profiled: bool) -> _Prepared:
    """What every instance of a module shares, worked out once per module rather than
    once per run (a batch runs it often): its imports checked and linked, its exports'
    shapes read. `profiled`: compiled with the profiling pass, whose imports it links."""
    prepared = _PREPARED.get(module)
    if prepared is not None:
        return prepared
    check_imports(
        (imp.module, imp.name or "", _signature(imp.type))
        for imp in module.imports
        if not (profiled and imp.module == PROFILE_MODULE)
    )
    linker = wasmtime.Linker(_engine())
    linker.define_func("host", "log", _LOG_TYPE, _host_log, access_caller=True)
    if profiled:
        linker.define_func(PROFILE_MODULE, ENTER, _ENTER_TYPE, _profile_enter)
        linker.define_func(PROFILE_MODULE, EXIT, _EXIT_TYPE, _profile_exit)
    shapes = {}
    for export in module.exports:
        signature = _signature(export.type)
        if signature is not None and set(signature.params) <= {"i32"}:
            if signature.results in ((), ("i32",)):
                shapes[export.name] = (len(signature.params), len(signature.results))
    prepared = _Prepared(linker.instantiate_pre(module), shapes)
    _PREPARED[module] = prepared
    while len(_PREPARED) > 8:
        _PREPARED.popitem(last=False)
    return prepared


atexit.register(_PREPARED.clear)  # freed while the bindings still exist


def _call_i32(
    store: wasmtime.Store, func: wasmtime.Func, args: tuple[int, ...], results: int
) -> int | None:
    """Call an export whose parameters are all i32 and whose result is one i32 or none
    (the ABI's `process` and `alloc`).

    `Func.__call__` builds the function's type and converts every value through it on
    each call, which costs more than a small plugin's whole run; the export's shape is
    read once per module (`_Prepared.i32_exports`), so the values go straight to the
    C API here.
    """
    params = (_ffi.wasmtime_val_t * len(args))()
    for slot, value in zip(params, args, strict=True):
        slot.kind = _I32
        slot.of.i32 = ((value + 2**31) % 2**32) - 2**31  # as the signed i32 it is
    out = (_ffi.wasmtime_val_t * results)()
    with enter_wasm(store) as trap:
        error = _ffi.wasmtime_func_call(
            store._context(), ctypes.byref(func._func), params, len(args), out, results, trap
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    return int(out[0].of.i32) if results else None


_I32 = _ffi.WASMTIME_I32.value


def _signature(ty: object) -> FuncType | None:
    if isinstance(ty, wasmtime.FuncType):
        return FuncType(tuple(str(p) for p in ty.params), tuple(str(r) for r in ty.results))
    return None


if __name__ == "__main__":  # the compile worker (engines/compile_worker.py)
    serve(lambda wasm: bytes(compile_native(wasm).serialize()))
