"""The Executor: resolve a binary, run it on an engine under limits, record the trace.

`Executor(registry, tracer=...).execute(ref, input, config) -> RunResult` is the library
entry point; the CLI's `run` is a thin layer over it. A run never raises for a plugin's
or a user's failure: the RunResult carries the error, and the trace is stored whatever
step failed. (A Ctrl-C, SIGTERM or SIGHUP is stored too, then re-raised as
KeyboardInterrupt or `Terminated`.)
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wasmcli.config import (
    RunConfig,
    max_trace_bytes_from_env,
    max_traces_from_env,
    tracing_enabled_from_env,
)
from wasmcli.engines import load_engine, resolve_engine_name
from wasmcli.engines.base import Engine, EngineLimits
from wasmcli.errors import (
    ErrorKind,
    Terminated,
    WasmcliError,
    internal_error,
    stopped_by_signal,
)
from wasmcli.return_codes import SUCCESS, return_code_name
from wasmcli.runtime.env import build_env, encode_env
from wasmcli.runtime.result import RunError, RunResult
from wasmcli.runtime.session import (
    SessionOutcome,
    SessionRequest,
    run_session,
)
from wasmcli.store.registry import Registry, ResolvedBinary
from wasmcli.store.traces import TraceStore
from wasmcli.tracing.events import ExecutionTrace
from wasmcli.tracing.events import TraceEventType as Ev
from wasmcli.tracing.recorder import TraceRecorder
from wasmcli.tracing.tracer import Tracer

if TYPE_CHECKING:
    from wasmcli.runtime.isolated import IsolatedRunner


@dataclass
class RunSink:
    """Receives a session's events (directly, or relayed from a child process)."""

    recorder: TraceRecorder
    lines: list[str] = field(default_factory=list)
    current_stage: str | None = None  # the step the session reached (for signals)
    on_output: Callable[[str], None] | None = None  # each output line, as it comes

    def event(self, event_type: Ev, message: str, **metadata: Any) -> None:
        self.recorder.record(event_type, message, **metadata)

    def event_at(self, at_ns: int, event_type: Ev, message: str, metadata: dict[str, Any]) -> None:
        self.recorder.record_at(at_ns, event_type, message, metadata)

    def log(self, line: str, size: int) -> None:
        self.lines.append(line)
        self.recorder.record_log(time.monotonic_ns(), line, len(self.lines), size)
        if self.on_output is not None:
            self.on_output(line)

    def wasm_starting(self) -> None:
        """In-process engines arm their own deadline."""

    def stage(self, name: str) -> None:
        self.current_stage = name

    def log_at(self, at_ns: int, line: str, size: int) -> None:
        self.lines.append(line)
        self.recorder.record_log(at_ns, line, len(self.lines), size)
        if self.on_output is not None:
            self.on_output(line)


class Executor:
    def __init__(
        self,
        registry: Registry | None = None,
        tracer: Tracer | None = None,
        *,
        reuse: bool = False,
    ) -> None:
        """`reuse` (a batch): runs share what does not depend on the input: the compiled
        module stays in memory, and an engine that runs plugins in a child process
        (wasmer) keeps one child for them all. `close()` ends that child."""
        self.registry = registry if registry is not None else Registry()
        self._tracer = tracer
        self._reuse = reuse
        self._isolated: IsolatedRunner | None = None

    def close(self) -> None:
        """End the child process kept for runs, if any."""
        isolated, self._isolated = self._isolated, None
        if isolated is not None:
            isolated.close()

    @property
    def tracer(self) -> Tracer:
        # Created on first use: opening the database is not free, and a disabled
        # tracer must cost nothing.
        if self._tracer is None:
            enabled = tracing_enabled_from_env()
            self._tracer = Tracer(
                enabled=enabled,
                max_traces=max_traces_from_env(),
                max_trace_bytes=max_trace_bytes_from_env(),
                store=TraceStore(self.registry.conn) if enabled else None,
            )
        return self._tracer

    def execute(
        self,
        ref: str | ResolvedBinary,
        input: bytes | str = b"",
        config: RunConfig | None = None,
        *,
        on_output: Callable[[str], None] | None = None,
    ) -> RunResult:
        """Run a plugin. `on_output` receives each output line as the plugin logs it
        (the CLI streams them); the result holds them all in any case. A WasmcliError
        that `on_output` raises (the CLI's "the output could not be written") stops the
        plugin and is the run's error, as the output cap is.

        A usage error found during the run (an ambiguous id prefix, an engine this
        Python lacks) is not a run: the result carries it, and no trace is stored."""
        config = (config or RunConfig.from_env()).validate()
        started = time.perf_counter()
        try:
            engine_name = resolve_engine_name(config.engine)
        except WasmcliError:
            engine_name = config.engine
        recorder = self.tracer.start(engine=engine_name)
        sink = RunSink(recorder, on_output=on_output)
        binary: ResolvedBinary | None = ref if isinstance(ref, ResolvedBinary) else None
        outcome: SessionOutcome | None = None
        error: WasmcliError | None = None
        try:
            input_bytes = input.encode("utf-8") if isinstance(input, str) else bytes(input)
            env = _env(config)
            env_bytes = encode_env(env)
            recorder.record(
                Ev.EXECUTION_START,
                "Starting execution",
                input_length=len(input_bytes),
                env_length=len(env_bytes),
                timeout_ms=config.timeout_ms,
                memory_limit_mb=config.memory_limit_mb,
                fuel_limit=config.fuel_limit,
                max_output=config.max_output,
                max_call_depth=config.max_call_depth,
                **({"profile": True} if config.profile else {}),
                engine=engine_name,
                random_seed=env["random_seed"],
                timestamp=env["timestamp"],
            )
            binary = self._load(ref, recorder)  # first: a failure then names the binary
            _check_input(input_bytes)
            engine = _import_engine(config.engine, recorder)
            request = SessionRequest(
                wasm=binary.wasm,
                sha256=binary.sha256,
                input=input_bytes,
                env=env_bytes,
                limits=engine_limits(config),
                max_output=config.max_output,
                cache_home=str(self.registry.home),
                keep_module=self._reuse,
            )
            outcome = self._run(engine, request, sink)
        except WasmcliError as exc:
            error = exc
        except (KeyboardInterrupt, Terminated) as exc:
            # The plugin was stopped (or had not started): keep the trace, then let the
            # signal end the program as it would have.
            error = _signal_error(exc).at(stage=sink.current_stage)
            self._finish(recorder, sink, config, binary, outcome, error, started)
            raise
        except Exception as exc:  # a bug: keep the trace, tell the user to report it
            error = internal_error(exc)
        result = self._finish(recorder, sink, config, binary, outcome, error, started)
        if error is not None and error.kind is ErrorKind.INTERRUPTED:
            raise KeyboardInterrupt  # the engine stopped the plugin for a Ctrl-C; trace kept
        if error is not None and error.kind is ErrorKind.TERMINATED:
            raise Terminated(error.signal or signal.SIGTERM)
        return result

    def _load(self, ref: str | ResolvedBinary, recorder: TraceRecorder) -> ResolvedBinary:
        reference = ref.name or ref.binary_id if isinstance(ref, ResolvedBinary) else ref
        recorder.record(Ev.LOAD_START, f"Loading {reference}", reference=reference)
        started = time.perf_counter()
        try:
            binary = ref if isinstance(ref, ResolvedBinary) else self.registry.resolve(ref)
        except WasmcliError as exc:
            raise exc.at(stage="load") from None
        recorder.set_binary(binary.binary_id, binary.name)
        recorder.record(
            Ev.LOAD_COMPLETE,
            "Binary read",
            step="resolve",
            source=binary.source,
            size_bytes=len(binary.wasm),
            sha256=binary.sha256,
            duration_ms=round(_ms_since(started), 3),
        )
        return binary

    def _run(self, engine: Engine, request: SessionRequest, sink: RunSink) -> SessionOutcome:
        if engine.needs_isolation:
            if self._isolated is None:
                from wasmcli.runtime.isolated import IsolatedRunner

                self._isolated = IsolatedRunner(self._reuse)
            return self._isolated.run(engine, request, sink)
        return run_session(engine, request, sink)

    def _finish(
        self,
        recorder: TraceRecorder,
        sink: RunSink,
        config: RunConfig,
        binary: ResolvedBinary | None,
        outcome: SessionOutcome | None,
        error: WasmcliError | None,
        started: float,
    ) -> RunResult:
        fuel_consumed = outcome.fuel_consumed if outcome else None
        return_code = outcome.return_code if outcome else None
        if error is not None:
            if fuel_consumed is None:
                fuel_consumed = error.fuel_consumed
            _record_error(recorder, error)
        elif outcome is not None:
            recorder.record(
                Ev.EXECUTION_COMPLETE,
                "Execution complete",
                return_code=outcome.return_code,
                return_code_name=return_code_name(outcome.return_code),
                output_bytes=len("\n".join(sink.lines).encode("utf-8")),
                output_lines=len(sink.lines),
            )
            if outcome.return_code != SUCCESS:
                error = WasmcliError(
                    ErrorKind.PLUGIN_ERROR,
                    f"Plugin returned {return_code_name(outcome.return_code)} "
                    f"({outcome.return_code})",
                )
        run_error = RunError.from_exception(error) if error else None
        trace = None
        saved = False
        warnings: list[str] = []
        if recorder.enabled and not (error is not None and error.kind is ErrorKind.USAGE):
            trace = recorder.finish(
                success=error is None,
                error_kind=error.kind.value if error else None,
                error_message=error.message if error else None,
                return_code=return_code,
                fuel_limit=config.fuel_limit,
                fuel_consumed=fuel_consumed,
            )
            saved = self._save(trace, warnings)
        return RunResult(
            output="\n".join(sink.lines),
            return_code=return_code,
            fuel_limit=config.fuel_limit,
            fuel_consumed=fuel_consumed,
            duration_ms=round(trace.duration_us / 1000 if trace else _ms_since(started), 3),
            binary_id=binary.binary_id if binary else None,
            binary_name=binary.name if binary else None,
            engine=recorder.engine if recorder.enabled else _engine_label(config),
            trace_id=trace.trace_id if trace and saved else None,  # never cite a lost trace
            error=run_error,
            trace=trace,
            warnings=tuple(warnings),
            exception=_exception_of(error),
        )

    def _save(self, trace: ExecutionTrace, warnings: list[str]) -> bool:
        """Keep the trace; False (and a warning) when it could not be saved."""
        try:
            kept = self.tracer.complete(trace)
        except WasmcliError as exc:
            warnings.append(f"the trace could not be saved: {exc.message}")
        except Exception as exc:  # noqa: BLE001 - the run's result matters more
            warnings.append(f"the trace could not be saved: {type(exc).__name__}: {exc}")
        else:
            return kept  # False: retention dropped it at once (a limit of 0, or too big)
        return False


def engine_limits(config: RunConfig) -> EngineLimits:
    """What the engine holds a run of `config` to (and compiles it for)."""
    return EngineLimits(
        fuel=config.fuel_limit,
        timeout_ms=config.timeout_ms,
        memory_limit_bytes=config.memory_limit_bytes,
        max_call_depth=config.max_call_depth,
        profile=config.profile,
    )


def _signal_error(exc: KeyboardInterrupt | Terminated) -> WasmcliError:
    return stopped_by_signal(exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def _import_engine(name: str, recorder: TraceRecorder) -> Engine:
    """The engine adapter, imported on first use (it imports the engine's package)."""
    started = time.perf_counter()
    try:
        engine = load_engine(name)
    except WasmcliError as exc:
        raise exc.at(stage="engine") from None
    recorder.record(
        Ev.LOAD_COMPLETE,
        "Engine imported",
        step="engine_import",
        engine=engine.name,
        duration_ms=round(_ms_since(started), 3),
    )
    return engine


def _record_error(recorder: TraceRecorder, error: WasmcliError) -> None:
    stage = error.stage or ("load" if error.kind is ErrorKind.LOAD else "setup")
    if stage == "load" or error.kind is ErrorKind.LOAD:
        recorder.record(
            Ev.LOAD_ERROR, error.message, error_kind=error.kind.value, error=error.message
        )
    metadata: dict[str, Any] = {
        "error_kind": error.kind.value,
        "error": error.message,
        "backtrace": list(error.backtrace),
        "stage": stage,
    }
    if error.memory_pages is not None:
        metadata["memory_pages"] = error.memory_pages
    if error.trap is not None:
        metadata["trap"] = error.trap
    recorder.record(Ev.EXECUTION_ERROR, error.message, **metadata)


def _env(config: RunConfig) -> dict[str, object]:
    # Reserved keys (timestamp, random_seed) were refused by config.validate().
    return build_env(config.env, config.seed, config.timestamp_ns)


def _check_input(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WasmcliError(
            ErrorKind.IO,
            f"Input is not valid UTF-8: byte {exc.start}: {exc.reason}",
            stage="input",
        ) from None


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _engine_label(config: RunConfig) -> str:
    try:
        return resolve_engine_name(config.engine)
    except WasmcliError:
        return config.engine


def _exception_of(error: WasmcliError | None) -> BaseException | None:
    return error.cause if error else None
