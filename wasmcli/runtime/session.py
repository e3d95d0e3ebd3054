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

from wasmcli.engines.base import Engine, EngineLimits, LoadedModule, PluginInstance
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.runtime.abi import check_module
from wasmcli.runtime.output import OutputCollector
from wasmcli.runtime.placement import Placement, place_with_alloc, place_without_alloc
from wasmcli.store.cache import ArtifactCache
from wasmcli.tracing.events import PROFILE_MESSAGE
from wasmcli.tracing.events import TraceEventType as Ev


class SessionSink(Protocol):
    """Where a session reports what happens (a trace recorder, or a pipe to the parent)."""

    def event(self, event_type: Ev, message: str, **metadata: Any) -> None: ...

    def log(self, line: str, size: int) -> None: ...

    def stage(self, name: str) -> None:
        """The run moved on to step `name` (load, abi_check, ..., process)."""

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
    keep_module: bool = False  # keep the compiled module in memory for the next runs


@dataclass(frozen=True)
class SessionOutcome:
    return_code: int
    fuel_consumed: int | None
    memory_pages: int


class PluginOutput:
    """The plugin's host.log: lines checked against the output cap, then reported."""

    def __init__(self, max_output: int, sink: SessionSink) -> None:
        self.collected = OutputCollector(max_output)
        self.sink = sink
        self.check_room = self.collected.check_room  # called once per log line

    def __call__(self, raw: bytes) -> None:
        self.sink.log(self.collected.add(raw), len(raw))


def run_session(engine: Engine, request: SessionRequest, sink: SessionSink) -> SessionOutcome:
    """Run the plugin; a failure is a WasmcliError whose `stage` says where."""
    return _Session(engine, request, sink).run()


class _Session:
    """The steps of one run, in order; `stage` names the step under way."""

    def __init__(self, engine: Engine, request: SessionRequest, sink: SessionSink) -> None:
        self.engine = engine
        self.request = request
        self.limits = request.limits
        self.sink = sink
        self.stage = "load"
        self.instance: PluginInstance | None = None

    def enter(self, stage: str) -> None:
        self.stage = stage
        self.sink.stage(stage)

    def run(self) -> SessionOutcome:
        try:
            module = self.load()
            self.enter("abi_check")
            check_module(self.request.wasm, self.limits)
            instance = self.instantiate(module)
            self.check_memory(instance)
            input_at, env_at = self.place_input(instance)
            return self.call_process(instance, input_at, env_at)
        except WasmcliError as error:
            self.explain(error)
            raise
        finally:
            if self.instance is not None:
                self.instance.close()

    def load(self) -> LoadedModule:
        self.enter("load")
        request = self.request
        # Load steps are timed apart (docs/trace-events.md): starting an engine is not
        # the module's load time, and a cache hit is not a compile.
        started = time.perf_counter()
        self.engine.start()
        version = self.engine.version
        self.sink.event(
            Ev.LOAD_COMPLETE,
            "Engine started",
            step="engine_start",
            engine=self.engine.name,
            engine_version=version,
            duration_ms=_ms_since(started),
        )
        cache = (
            ArtifactCache(Path(request.cache_home), f"{self.engine.name}-{version}")
            if request.cache_home
            else None
        )
        started = time.perf_counter()
        module = self.engine.load(request.wasm, self.limits, cache, keep=request.keep_module)
        self.sink.event(
            Ev.LOAD_COMPLETE,
            "Module loaded from cache" if module.from_cache else "Module compiled",
            step="module",
            size_bytes=len(request.wasm),
            sha256=request.sha256,
            from_cache=module.from_cache,
            duration_ms=_ms_since(started),
        )
        return module

    def instantiate(self, module: LoadedModule) -> PluginInstance:
        self.enter("instantiate")
        self.sink.event(Ev.FUEL_CHECKPOINT, "Fuel limit set", fuel_limit=self.limits.fuel)
        output = PluginOutput(self.request.max_output, self.sink)
        self.sink.event(Ev.HOST_FUNCTION_CALL, "Registered host.log", function="host.log")
        self.sink.wasm_starting()
        self.instance = self.engine.instantiate(module, self.limits, output)
        self.sink.event(
            Ev.FUNCTION_CALL,
            "Module instantiated",
            function="instantiate",
            memory_pages=self.instance.memory_pages(),
        )
        return self.instance

    def check_memory(self, instance: PluginInstance) -> None:
        self.enter("memory_check")
        self.sink.event(
            Ev.MEMORY_OP,
            "Memory size checked",
            operation="size_check",
            memory_pages=instance.memory_pages(),
            memory_max_pages=instance.memory_max_pages(),
            memory_limit_pages=self.limits.memory_limit_pages,
        )

    def place_input(self, instance: PluginInstance) -> tuple[Placement, Placement]:
        self.enter("write_input")
        input_at, env_at = _place(instance, self.request, self.limits)
        self.sink.event(
            Ev.MEMORY_OP, "Input written", operation="write_input", **input_at.metadata()
        )
        self.sink.event(Ev.MEMORY_OP, "Env written", operation="write_env", **env_at.metadata())
        return input_at, env_at

    def call_process(
        self, instance: PluginInstance, input_at: Placement, env_at: Placement
    ) -> SessionOutcome:
        self.enter("process")
        self.sink.event(
            Ev.FUNCTION_CALL,
            "Calling process",
            function="process",
            input_ptr=input_at.ptr,
            input_len=input_at.length,
            env_ptr=env_at.ptr,
            env_len=env_at.length,
        )
        args = (input_at.ptr, input_at.length, env_at.ptr, env_at.length)
        result = instance.call("process", *args)
        if result is None:
            raise WasmcliError(ErrorKind.ABI, "`process` returned no value; expected an i32")
        fuel = _fuel_checkpoint(instance, self.limits, self.sink)
        _profile_event(instance, "completed", fuel, self.sink)
        return SessionOutcome(
            return_code=result, fuel_consumed=fuel, memory_pages=instance.memory_pages()
        )

    def explain(self, error: WasmcliError) -> None:
        """Add where the run was and the plugin's state to a failure."""
        error.at(stage=self.stage)
        if self.instance is not None:
            fuel = _fuel_checkpoint(self.instance, self.limits, self.sink)
            error.at(fuel_consumed=fuel, memory_pages=_pages_or_none(self.instance))
            _profile_event(self.instance, error.kind.value, fuel, self.sink)
            _hint_memory_exhaustion(error, self.limits)
        else:
            if error.kind is ErrorKind.OUT_OF_FUEL:
                # Used up in the start function, before there was an instance to ask: a
                # run that uses up its fuel reports the limit, wherever it ran out.
                error.at(fuel_consumed=self.limits.fuel)
            if error.profile is not None:  # the start function's, up to its failure
                record_profile(error.profile, self.sink)


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


def _profile_event(
    instance: PluginInstance, outcome: str, fuel: int | None, sink: SessionSink
) -> None:
    """A profiled run's profile, as the event after its closing fuel checkpoint."""
    profile = instance.profile(outcome, fuel)
    if profile is not None:
        record_profile(profile, sink)


def record_profile(profile: dict[str, Any], sink: SessionSink) -> None:
    """The profile event (docs/design.md, "Profiles")."""
    sink.event(Ev.FUEL_CHECKPOINT, PROFILE_MESSAGE, profile=profile)


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
    pages = error.memory_pages
    if error.kind is ErrorKind.TRAP and pages is not None and pages >= limits.memory_limit_pages:
        error.set_message(
            error.message + f" (memory was at the {limits.memory_limit_bytes // 2**20} MB limit: "
            "the plugin probably ran out of memory; see --memory-limit-mb)"
        )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
