"""One plugin run on one engine, from compile to the return of `process`.

This is the ABI driver: it compiles, checks the module against the ABI, instantiates
with `host.log`, places input and env, calls `process`, and reports every step to a
sink as trace events. It knows nothing about the registry or the CLI, and runs where
the engine runs: in this process for wasmtime, in a child process for wasmer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from wasmcli.engines.base import Engine, EngineLimits, PluginInstance
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.return_codes import return_code_name
from wasmcli.runtime.abi import check_module
from wasmcli.runtime.output import OutputCollector
from wasmcli.runtime.placement import Placement, place_with_alloc, place_without_alloc
from wasmcli.store.cache import ArtifactCache
from wasmcli.tracing.events import TraceEventType as Ev


class SessionSink(Protocol):
    """Where a session reports what happens (a trace recorder, or a pipe to the parent)."""

    def event(self, event_type: Ev, message: str, **metadata: Any) -> None: ...

    def log(self, line: str, size: int) -> None: ...

    def wasm_starting(self) -> None:
        """Plugin code is about to run (the wall-clock limit starts here)."""


@dataclass(frozen=True)
class SessionRequest:
    wasm: bytes
    sha256: str
    input: bytes
    env: bytes
    limits: EngineLimits
    max_output: int
    cache_home: str | None  # wasmcli home for compiled artifacts; None: no cache


@dataclass(frozen=True)
class SessionOutcome:
    return_code: int
    fuel_consumed: int | None
    memory_pages: int


def run_session(engine: Engine, request: SessionRequest, sink: SessionSink) -> SessionOutcome:
    """Run the plugin; failures are WasmcliError with details["stage"] saying where."""
    limits = request.limits
    stage = "load"
    instance: PluginInstance | None = None
    try:
        # Load steps are timed apart (docs/trace-events.md): starting an engine is not
        # the module's load time, and a cache hit is not a compile.
        started = time.perf_counter()
        engine.start()
        sink.event(
            Ev.LOAD_COMPLETE,
            "Engine started",
            step="engine_start",
            engine=engine.name,
            engine_version=engine.version,
            duration_ms=_ms_since(started),
        )
        started = time.perf_counter()
        cache = (
            ArtifactCache(Path(request.cache_home), f"{engine.name}-{engine.version}")
            if request.cache_home
            else None
        )
        module = engine.load(request.wasm, limits, cache)
        sink.event(
            Ev.LOAD_COMPLETE,
            "Module loaded from cache" if module.from_cache else "Module compiled",
            step="module",
            size_bytes=len(request.wasm),
            sha256=request.sha256,
            from_cache=module.from_cache,
            duration_ms=_ms_since(started),
        )
        stage = "abi_check"
        check_module(request.wasm, limits)

        stage = "instantiate"
        sink.event(Ev.FUEL_CHECKPOINT, "Fuel limit set", fuel_limit=limits.fuel)
        output = OutputCollector(request.max_output)

        def host_log(raw: bytes) -> None:
            sink.log(output.add(raw), len(raw))

        sink.event(Ev.HOST_FUNCTION_CALL, "Registered host.log", function="host.log")
        sink.wasm_starting()
        instance = engine.instantiate(module, limits, host_log)
        sink.event(
            Ev.FUNCTION_CALL,
            "Module instantiated",
            function="instantiate",
            memory_pages=instance.memory_pages(),
        )

        stage = "memory_check"
        sink.event(
            Ev.MEMORY_OP,
            "Memory size checked",
            operation="size_check",
            memory_pages=instance.memory_pages(),
            memory_max_pages=instance.memory_max_pages(),
            memory_limit_pages=limits.memory_limit_pages,
        )

        stage = "write_input"
        input_at, env_at = _place(instance, request, limits)
        sink.event(Ev.MEMORY_OP, "Input written", operation="write_input", **input_at.metadata())
        sink.event(Ev.MEMORY_OP, "Env written", operation="write_env", **env_at.metadata())

        stage = "process"
        sink.event(
            Ev.FUNCTION_CALL,
            "Calling process",
            function="process",
            input_ptr=input_at.ptr,
            input_len=input_at.length,
            env_ptr=env_at.ptr,
            env_len=env_at.length,
        )
        result = instance.call("process", input_at.ptr, input_at.length, env_at.ptr, env_at.length)
        if result is None:
            raise WasmcliError(ErrorKind.ABI, "`process` returned no value; expected an i32")
        fuel = _fuel_checkpoint(instance, limits, sink)
        return SessionOutcome(
            return_code=result, fuel_consumed=fuel, memory_pages=instance.memory_pages()
        )
    except WasmcliError as error:
        error.details.setdefault("stage", stage)
        if instance is not None:
            error.details.setdefault("fuel_consumed", _fuel_checkpoint(instance, limits, sink))
            error.details.setdefault("memory_pages", _pages_or_none(instance))
            _hint_memory_exhaustion(error, limits)
        raise
    finally:
        if instance is not None:
            instance.close()


def _place(
    instance: PluginInstance, request: SessionRequest, limits: EngineLimits
) -> tuple[Placement, Placement]:
    if instance.has_function("alloc"):
        return (
            place_with_alloc(instance, request.input, "input"),
            place_with_alloc(instance, request.env, "env"),
        )
    return place_without_alloc(instance, request.input, request.env, limits)


def _fuel_checkpoint(
    instance: PluginInstance, limits: EngineLimits, sink: SessionSink
) -> int | None:
    consumed = instance.fuel_consumed()
    if consumed is None:
        unknown_fuel_checkpoint(limits, sink)
        return None
    consumed = min(consumed, limits.fuel)
    sink.event(
        Ev.FUEL_CHECKPOINT,
        "Fuel consumed",
        fuel_limit=limits.fuel,
        fuel_consumed=consumed,
        fuel_remaining=limits.fuel - consumed,
    )
    return consumed


def unknown_fuel_checkpoint(limits: EngineLimits, sink: SessionSink) -> None:
    """The closing fuel checkpoint of a run whose fuel the engine cannot tell."""
    sink.event(
        Ev.FUEL_CHECKPOINT,
        "Fuel consumed: unknown (the plugin was stopped mid-block)",
        fuel_limit=limits.fuel,
        fuel_consumed=None,
        fuel_remaining=None,
    )


def _pages_or_none(instance: PluginInstance) -> int | None:
    try:
        return instance.memory_pages()
    except WasmcliError:
        return None


def _hint_memory_exhaustion(error: WasmcliError, limits: EngineLimits) -> None:
    # memory.grow past the cap returns -1 (standard wasm); a plugin that does not check
    # it usually aborts. Say so when the trap came with memory at the cap.
    pages = error.details.get("memory_pages")
    if error.kind is ErrorKind.TRAP and isinstance(pages, int):
        if pages >= limits.memory_limit_pages:
            error.message += (
                f" (memory was at the {limits.memory_limit_bytes // 2**20} MB limit: "
                "the plugin probably ran out of memory; see --memory-limit-mb)"
            )
            error.args = (error.message,)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def describe_return_code(code: int) -> str:
    return f"{return_code_name(code)} ({code})"
