"""The parts of a batch that run in one process: used by `run_batch` in this process and
by each worker process of `--jobs` (runtime/batch_workers.py).

`BatchRunner` runs inputs one at a time, each in a fresh instance of the plugin (the
compiled module is kept in memory). `ResultFlusher` writes the traces a few hundred at a
time, each group in one transaction, before it hands on the results that cite them, in
input order. `BatchResult` is one input's result; `BatchSummary` what the whole batch did,
for its closing line and its exit code.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from wasmcli.config import RunConfig
from wasmcli.errors import ErrorKind, Terminated, WasmcliError
from wasmcli.runtime.batch_input import BatchInput
from wasmcli.runtime.executor import Executor
from wasmcli.runtime.result import RunError, RunResult
from wasmcli.store.registry import Registry, ResolvedBinary
from wasmcli.store.traces import TraceFilter
from wasmcli.tracing.tracer import BatchTracer

# Traces are written, and results handed on, every FLUSH_EVERY results or FLUSH_AFTER_S
# seconds, whichever comes first: few transactions, and a slow batch still shows results.
FLUSH_EVERY = 256
FLUSH_AFTER_S = 0.25
OK = "ok"  # the outcome of a successful input (failed ones: their error kind)


@dataclass
class BatchResult:
    """One input's result: `data` is its JSON line (`run --json`'s fields, id, index)."""

    index: int
    data: dict[str, Any]
    outcome: str  # "ok", or the error kind
    exit_code: int
    fuel_consumed: int | None
    duration_ms: float

    @property
    def success(self) -> bool:
        return self.outcome == OK

    @classmethod
    def of_run(cls, item: BatchInput, result: RunResult) -> BatchResult:
        return cls(
            index=item.index,
            data={"index": item.index, "id": item.id, **result.to_dict()},
            outcome=OK if result.error is None else result.error.kind.value,
            exit_code=result.exit_code,
            fuel_consumed=result.fuel_consumed,
            duration_ms=result.duration_ms,
        )

    @classmethod
    def of_bad_line(
        cls, item: BatchInput, config: RunConfig, binary: ResolvedBinary
    ) -> BatchResult:
        """A line that is not a usable input: a usage error, and not a run (no trace)."""
        assert item.problem is not None  # only a bad line comes here
        error = RunError(ErrorKind.USAGE, item.problem, stage="input")
        data = {
            "index": item.index,
            "id": item.id,
            "output": "",
            "return_code": None,
            "return_code_name": None,
            "fuel_consumed": None,
            "fuel_limit": config.fuel_limit,
            "duration_ms": 0.0,
            "trace_id": None,
            "binary_id": binary.binary_id,
            "binary_name": binary.name,
            "engine": None,
            "success": False,
            "error": error.to_dict(),
        }
        return cls(item.index, data, ErrorKind.USAGE.value, ErrorKind.USAGE.exit_code, None, 0.0)


@dataclass
class BatchSummary:
    """What a batch did, for its closing line and its exit code."""

    batch_id: str
    counts: Counter[str] = field(default_factory=Counter)  # outcome -> inputs
    total_fuel: int = 0
    durations_ms: list[float] = field(default_factory=list)
    first_failure: BatchResult | None = None  # in input order
    stopped_by: int | None = None  # the signal that stopped the batch
    failed_fast: bool = False  # --fail-fast stopped it at first_failure
    traces_recorded: int = 0  # runs that recorded a trace
    traces_not_kept: int = 0  # results whose trace retention dropped (trace_id null)
    traces_kept: int | None = None  # the batch's traces still stored at its end
    warnings: list[str] = field(default_factory=list)

    def add(self, result: BatchResult) -> None:
        self.counts[result.outcome] += 1
        self.total_fuel += result.fuel_consumed or 0
        if result.outcome != ErrorKind.USAGE.value:  # a bad line did not run
            self.durations_ms.append(result.duration_ms)
        if not result.success and (
            self.first_failure is None or result.index < self.first_failure.index
        ):
            self.first_failure = result

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        """0 when every input succeeded; else the exit code of the first failed input in
        input order; a signal that stopped the batch wins (128 + the signal)."""
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        return self.first_failure.exit_code if self.first_failure is not None else 0

    def percentile_ms(self, fraction: float) -> float | None:
        """The duration below which `fraction` of the runs finished (nearest rank)."""
        if not self.durations_ms:
            return None
        ordered = sorted(self.durations_ms)
        rank = max(1, -(-len(ordered) * fraction // 1))
        return ordered[min(len(ordered), int(rank)) - 1]


def per_input_config(config: RunConfig, item: BatchInput) -> RunConfig:
    """The batch's configuration with the line's env, seed and timestamp on top."""
    if not item.env and item.seed is None and item.timestamp_ns is None:
        return config
    return replace(
        config,
        env={**config.env, **item.env} if item.env else config.env,
        seed=item.seed if item.seed is not None else config.seed,
        timestamp_ns=item.timestamp_ns if item.timestamp_ns is not None else config.timestamp_ns,
    )


class BatchRunner:
    """Runs the inputs of one batch in this process, one fresh instance each."""

    def __init__(
        self,
        binary: ResolvedBinary,
        config: RunConfig,
        registry: Registry,
        tracer: BatchTracer,
    ) -> None:
        self.binary = binary
        self.config = config
        self.tracer = tracer
        self.executor = Executor(registry, tracer=tracer, reuse=True)

    def run(self, item: BatchInput) -> BatchResult:
        if item.problem is not None:
            return BatchResult.of_bad_line(item, self.config, self.binary)
        config = per_input_config(self.config, item)
        return BatchResult.of_run(item, self.executor.execute(self.binary, item.data, config))

    def close(self) -> None:
        self.executor.close()


class ResultFlusher:
    """Holds finished results until their traces are written, then hands them on in
    order (retention may drop a trace at once: its result then cites none)."""

    def __init__(
        self,
        tracer: BatchTracer,
        summary: BatchSummary,
        on_results: Callable[[list[BatchResult]], None],
    ) -> None:
        self.tracer = tracer
        self.summary = summary
        self.on_results = on_results
        self.pending: list[BatchResult] = []
        self.last_flush = -FLUSH_AFTER_S  # the first result goes out at once

    def add(self, result: BatchResult) -> None:
        self.pending.append(result)
        if len(self.pending) >= FLUSH_EVERY or time.monotonic() - self.last_flush >= FLUSH_AFTER_S:
            self.flush()

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        try:
            kept = self.tracer.flush()  # a signal here leaves everything pending
        except Exception as exc:  # noqa: BLE001 - the results matter more than the traces
            message = exc.message if isinstance(exc, WasmcliError) else f"{exc}"
            warning = f"traces could not be saved: {message}"
            if warning not in self.summary.warnings:
                self.summary.warnings.append(warning)
            self.tracer.pending.clear()
            kept = set()
        results, self.pending = self.pending, []
        for result in results:
            trace_id = result.data.get("trace_id")
            self.summary.traces_recorded += trace_id is not None
            if trace_id is not None and trace_id not in kept:
                result.data["trace_id"] = None  # never cite a trace that was not kept
                if self.tracer.enabled:
                    self.summary.traces_not_kept += 1
        if results:
            self.on_results(results)


def count_kept(summary: BatchSummary, tracer: BatchTracer) -> None:
    """How many of the batch's traces retention left in the store."""
    if tracer.enabled and tracer.store is not None and summary.traces_recorded:
        try:
            summary.traces_kept = tracer.store.count(TraceFilter(batch_id=tracer.batch_id))
        except Exception:  # noqa: BLE001 - only the closing warning needs it
            summary.traces_kept = None


def signal_of(stop: KeyboardInterrupt | Terminated) -> int:
    return stop.signum if isinstance(stop, Terminated) else int(signal.SIGINT)


def ignore_stop_signals() -> None:
    """Once a batch is stopping, further stop signals are ignored (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
