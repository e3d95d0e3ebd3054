"""The wasmtime adapter: native fuel, epoch-interruption timeouts, store memory limits.

A single timer thread per run increments the engine's epoch at the run's deadline; each
call re-arms the store's epoch deadline, so whichever call is running at the deadline is
interrupted (the start function included).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time
from functools import lru_cache
from importlib.metadata import version as package_version
from typing import Any

import wasmtime

from wasmcli.engines.base import (
    Engine,
    EngineLimits,
    HostLog,
    LoadedModule,
    PluginInstance,
    compile_error,
)
from wasmcli.engines.imports import check_imports
from wasmcli.engines.traps import (
    caused_by,
    clip_backtrace,
    demangle,
    describe_trap,
    first_line,
)
from wasmcli.errors import ErrorKind, WasmcliError

# Everything in the engine config that changes compiled code belongs in the cache key.
_CONFIG_FINGERPRINT = "consume_fuel=1;epoch_interruption=1"


@lru_cache(maxsize=1)
def _engine() -> wasmtime.Engine:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    return wasmtime.Engine(config)


def validate(wasm: bytes) -> None:
    """Check a module fully (structure and types); WasmcliError(LOAD) when invalid."""
    try:
        wasmtime.Module.validate(_engine(), wasm)
    except wasmtime.WasmtimeError as exc:
        raise compile_error(_compile_message(exc)) from None


def _compile_message(exc: Exception) -> str:
    text = str(exc)
    head, cause = first_line(text), caused_by(text)
    return head if head == cause else f"{head}: {cause}"


class WasmtimeEngine(Engine):
    name = "wasmtime"
    needs_isolation = False

    @property
    def version(self) -> str:
        return package_version("wasmtime")

    def start(self) -> None:
        _engine()

    def compile_settings(self, limits: EngineLimits) -> tuple[object, ...]:
        return (_CONFIG_FINGERPRINT,)

    def compile(self, wasm: bytes, limits: EngineLimits) -> wasmtime.Module:
        try:
            return wasmtime.Module(_engine(), wasm)
        except wasmtime.WasmtimeError as exc:
            raise compile_error(_compile_message(exc)) from None

    def deserialize(self, artifact: bytes) -> wasmtime.Module | None:
        try:
            return wasmtime.Module.deserialize(_engine(), artifact)
        except wasmtime.WasmtimeError:
            return None  # another wasmtime build wrote it: recompile and overwrite

    def instantiate(
        self, module: LoadedModule, limits: EngineLimits, host_log: HostLog
    ) -> WasmtimeInstance:
        return WasmtimeInstance(module.native, limits, host_log)


class _Deadline:
    """The run's wall-clock deadline, and Ctrl-C: both bump the engine epoch.

    Python runs signal handlers only between bytecodes, so a Ctrl-C would otherwise wait
    for the wasm call to end, i.e. for the timeout. In the main thread, the deadline sets
    Python's signal wakeup fd to a pipe that its watcher thread reads: whichever thread
    the signal lands on (wasmtime compiles on worker threads), Python's own handler
    writes the signal number there, and the watcher interrupts the plugin. Python's
    KeyboardInterrupt then follows as usual once the call has returned.
    """

    _POLL_S = 0.05

    def __init__(self, timeout_ms: int) -> None:
        self.at = time.monotonic() + timeout_ms / 1000
        self.interrupted = False
        self._done = threading.Event()
        self._pipe: tuple[int, int] | None = None
        self._old_wakeup_fd = -1
        if _can_watch_sigint():
            self._pipe = os.pipe()
            for fd in self._pipe:
                os.set_blocking(fd, False)
            self._old_wakeup_fd = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        self._watcher = threading.Thread(target=self._watch, name="wasmcli-deadline", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._done.is_set():
            remaining = self.at - time.monotonic()
            if remaining <= 0:
                _engine().increment_epoch()
                return
            wait = min(remaining, self._POLL_S)
            if self._pipe is None:
                self._done.wait(wait)
                continue
            readable, _, _ = select.select([self._pipe[0]], [], [], wait)
            if readable and signal.SIGINT in os.read(self._pipe[0], 512):
                self.interrupted = True
                _engine().increment_epoch()
                return

    def passed(self) -> bool:
        return time.monotonic() >= self.at

    def cancel(self) -> None:
        self._done.set()
        if self._pipe is not None:
            os.write(self._pipe[1], b"\0")  # wake the watcher from its select now
        if self._watcher is not threading.current_thread():
            self._watcher.join()
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None


def _can_watch_sigint() -> bool:
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )


class WasmtimeInstance(PluginInstance):
    def __init__(self, module: wasmtime.Module, limits: EngineLimits, host_log: HostLog) -> None:
        self.limits = limits
        self.store = wasmtime.Store(_engine())
        self.store.set_limits(memory_size=limits.memory_limit_bytes)
        self.store.set_fuel(limits.fuel)
        self._host_log = host_log
        self._memory: wasmtime.Memory | None = None
        # Compiled code keeps its fuel count in a register and writes it back at calls
        # and returns; after a trap or an interrupt the store's count is stale.
        self._fuel_unknown = False
        check_imports(
            [(imp.module, imp.name or "", _signature(imp.type)) for imp in module.imports]
        )
        self.deadline = _Deadline(limits.timeout_ms)
        log_type = wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], [])
        imports: list[Any] = []
        for _ in module.imports:  # check_imports allowed only host.log
            imports.append(wasmtime.Func(self.store, log_type, self._log, access_caller=True))
        self.store.set_epoch_deadline(1)
        try:
            self.instance = wasmtime.Instance(self.store, module, imports)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            self.close()
            raise self._instantiate_error(exc) from None
        except BaseException:
            self.close()
            raise
        self.exports = self.instance.exports(self.store)
        memory = self.exports.get("memory")
        self._memory = memory if isinstance(memory, wasmtime.Memory) else None

    # -- host.log -------------------------------------------------------------------

    def _log(self, caller: wasmtime.Caller, ptr: int, length: int) -> None:
        # The export lookup is the slowest part of a host call; do it once (a start
        # function can log before the instance, and so self._memory, exists).
        memory = self._memory if self._memory is not None else caller.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise WasmcliError(ErrorKind.TRAP, "host.log called but the plugin exports no memory")
        start, size = ptr & 0xFFFFFFFF, length & 0xFFFFFFFF
        available = memory.data_len(caller)
        if start + size > available:
            raise WasmcliError(
                ErrorKind.TRAP,
                f"host.log range {start}..{start + size} is outside the plugin's memory "
                f"({available} bytes)",
            )
        # string_at copies straight from linear memory (bounds checked just above);
        # Memory.read would check the length and build a ctypes array again per call.
        base = ctypes.addressof(memory.data_ptr(caller).contents)
        self._host_log(ctypes.string_at(base + start, size))

    # -- memory ---------------------------------------------------------------------

    def _mem(self) -> wasmtime.Memory:
        if self._memory is None:
            raise WasmcliError(ErrorKind.ABI, "the module does not export `memory`")
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
        self._check_range(ptr, length)
        return bytes(self._mem().read(self.store, ptr, ptr + length))

    def write_memory(self, ptr: int, data: bytes) -> None:
        self._check_range(ptr, len(data))
        self._mem().write(self.store, data, ptr)

    def _check_range(self, ptr: int, length: int) -> None:
        available = self._mem().data_len(self.store)
        if ptr < 0 or length < 0 or ptr + length > available:
            raise WasmcliError(
                ErrorKind.TRAP,
                f"memory range {ptr}..{ptr + length} is outside the plugin's memory "
                f"({available} bytes)",
            )

    # -- calls ----------------------------------------------------------------------

    def has_function(self, name: str) -> bool:
        return isinstance(self.exports.get(name), wasmtime.Func)

    def call(self, name: str, *args: int) -> int | None:
        func = self.exports.get(name)
        if not isinstance(func, wasmtime.Func):
            raise WasmcliError(ErrorKind.ABI, f"the module does not export a function `{name}`")
        if self.deadline.interrupted:
            raise WasmcliError(ErrorKind.INTERRUPTED, "Interrupted")
        if self.deadline.passed():
            raise WasmcliError(ErrorKind.TIMEOUT, "Execution timeout")
        self.store.set_epoch_deadline(1)  # re-arm: the deadline timer bumps the epoch once
        try:
            result = func(self.store, *args)
        except wasmtime.Trap as trap:
            raise self._trap_error(trap) from None
        except wasmtime.WasmtimeError as exc:
            raise WasmcliError(ErrorKind.TRAP, f"Plugin failed: {caused_by(str(exc))}") from None
        return None if result is None else int(result)

    def fuel_consumed(self) -> int | None:
        if self._fuel_unknown:
            return None
        return self.limits.fuel - int(self.store.get_fuel())

    def close(self) -> None:
        self.deadline.cancel()

    # -- errors ---------------------------------------------------------------------

    def _trap_error(self, trap: wasmtime.Trap) -> WasmcliError:
        code = trap.trap_code
        self._fuel_unknown = code != wasmtime.TrapCode.OUT_OF_FUEL
        backtrace = _backtrace(trap)
        if code == wasmtime.TrapCode.INTERRUPT and self.deadline.interrupted:
            return WasmcliError(ErrorKind.INTERRUPTED, "Interrupted", backtrace=backtrace)
        if code == wasmtime.TrapCode.INTERRUPT:
            return WasmcliError(ErrorKind.TIMEOUT, "Execution timeout", backtrace=backtrace)
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return WasmcliError(
                ErrorKind.OUT_OF_FUEL,
                f"Out of fuel: the plugin used all {self.limits.fuel:,} units",
                backtrace=backtrace,
            )
        return WasmcliError(
            ErrorKind.TRAP,
            f"Plugin trapped: {describe_trap(caused_by(str(trap.message)))}",
            backtrace=backtrace,
        )

    def _instantiate_error(self, exc: BaseException) -> WasmcliError:
        if isinstance(exc, wasmtime.Trap):
            error = self._trap_error(exc)
            if error.kind is ErrorKind.TRAP:  # timeouts and fuel keep their own kinds
                error = WasmcliError(
                    ErrorKind.ABI,
                    f"Failed to instantiate module: the start function trapped: "
                    f"{error.message.removeprefix('Plugin trapped: ')}",
                    backtrace=error.backtrace,
                )
            return error
        text = caused_by(str(exc))
        if "memory" in text and ("limit" in text or "minimum" in text):
            return WasmcliError(ErrorKind.MEMORY_LIMIT, f"Memory limit exceeded: {text}")
        return WasmcliError(ErrorKind.ABI, f"Failed to instantiate module: {text}")


def _backtrace(trap: wasmtime.Trap) -> list[str]:
    frames = []
    for frame in trap.frames or []:
        name = (
            demangle(frame.func_name) if frame.func_name else f"<wasm function {frame.func_index}>"
        )
        offset = frame.module_offset
        frames.append(name if offset in (None, 2**64 - 1) else f"{name} @ 0x{offset:x}")
    return clip_backtrace(frames)


def _signature(ty: object) -> str | None:
    if isinstance(ty, wasmtime.FuncType):
        params = ", ".join(str(p) for p in ty.params)
        results = ", ".join(str(r) for r in ty.results)
        return f"({params}) -> ({results})"
    return None
