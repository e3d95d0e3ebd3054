"""Many inputs through one plugin in one process: the library behind `run --batch`.

`run_batch(ref, inputs, config, on_result=...)` resolves the plugin once, runs every
input in a fresh instance of it (the compiled module is kept in memory, so it is
compiled at most once per process), and hands each result to `on_result` in input
order. Each run leaves its own trace; the traces of a batch share its batch id and are
written a few hundred at a time, each group in one transaction, before the results
that cite them are handed on. With `jobs > 1` the inputs are shared out among worker
processes (runtime/batch_workers.py) and the results still come back in input order.

A signal (Ctrl-C, SIGTERM, SIGHUP) stops the batch: the run under way is stopped and
its trace kept, every result that finished is handed on, and the summary says which
signal stopped it (`stopped_by`); the caller decides how to exit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from wasmcli.config import RunConfig
from wasmcli.errors import Terminated
from wasmcli.runtime.batch_input import BatchInput
from wasmcli.runtime.batch_runner import (
    BatchResult,
    BatchRunner,
    BatchSummary,
    ResultFlusher,
    count_kept,
    ignore_stop_signals,
    signal_of,
)
from wasmcli.runtime.executor import Executor
from wasmcli.store.registry import Registry, ResolvedBinary
from wasmcli.tracing.tracer import BatchTracer, Tracer

__all__ = ["BatchResult", "BatchSummary", "run_batch"]


def run_batch(
    ref: str | ResolvedBinary,
    inputs: Iterable[BatchInput],
    config: RunConfig,
    *,
    on_result: Callable[[BatchResult], None],
    registry: Registry | None = None,
    tracer: Tracer | None = None,
    jobs: int = 1,
    fail_fast: bool = False,
    batch_id: str | None = None,
) -> BatchSummary:
    """Run every input through the plugin `ref`; results go to `on_result` in input order.

    A plugin that cannot be resolved raises its WasmcliError before anything runs; every
    other failure belongs to its input. Stops at the first failed input with
    `fail_fast` (the results up to it are the same whatever `jobs` is).
    """
    config = config.validate()
    registry = registry if registry is not None else Registry()
    binary = ref if isinstance(ref, ResolvedBinary) else registry.resolve(ref)
    batch_tracer = BatchTracer(
        tracer if tracer is not None else Executor(registry).tracer,
        batch_id or str(uuid.uuid4()),
    )
    summary = BatchSummary(batch_tracer.batch_id)

    def deliver(results: list[BatchResult]) -> None:
        for result in results:
            summary.add(result)
            on_result(result)

    if jobs > 1:
        from wasmcli.runtime.batch_workers import run_in_workers

        run_in_workers(
            binary,
            inputs,
            config,
            registry,
            batch_tracer,
            summary,
            deliver,
            jobs=jobs,
            fail_fast=fail_fast,
        )
        return summary
    runner = BatchRunner(binary, config, registry, batch_tracer)
    flusher = ResultFlusher(batch_tracer, summary, deliver)
    try:
        for item in inputs:
            result = runner.run(item)
            flusher.add(result)
            if fail_fast and not result.success:
                summary.failed_fast = True
                break
    except (KeyboardInterrupt, Terminated) as stop:
        summary.stopped_by = signal_of(stop)
        ignore_stop_signals()  # a second Ctrl-C must not cut the last flush short
    finally:
        runner.close()
        flusher.flush()
    count_kept(summary, batch_tracer)
    return summary
