"""`run --batch --jobs N`: the inputs shared out among N worker processes.

The parent reads the inputs, sends them to the workers in consecutive chunks (small at
first, then sized to about CHUNK_TARGET_S of work each), and hands the results on in
input order as the chunks come back. Each worker is a forked copy of this process with
its own database connection: it runs its chunk with a `BatchRunner` (one compile per
worker), writes the chunk's traces in one transaction, and sends back the results.

--fail-fast: a failed input's index is shared with every worker, which then skips any
later input; the results handed on are exactly those a sequential batch would give.
A signal to the parent is passed on to the workers: each stops its run under way
(keeping its trace), writes its traces and reports what it finished; then the parent
hands on every finished result, in input order.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from wasmcli.config import RunConfig
from wasmcli.errors import ErrorKind, Terminated, raise_terminated
from wasmcli.runtime.batch_input import BatchInput
from wasmcli.runtime.batch_runner import (
    BatchResult,
    BatchRunner,
    BatchSummary,
    ResultFlusher,
    ignore_stop_signals,
    signal_of,
)
from wasmcli.runtime.result import RunError
from wasmcli.store.registry import Registry, ResolvedBinary
from wasmcli.store.traces import TraceStore
from wasmcli.tracing.events import ExecutionTrace
from wasmcli.tracing.tracer import BatchTracer, Tracer

CHUNK_TARGET_S = 0.05  # about this much work per chunk: fast plugins, few messages
MAX_CHUNK = 128
IN_FLIGHT = 2  # chunks queued per worker, so none waits for the parent
STOP_GRACE_S = 10.0  # how long stopped workers get to report before they are killed
_NONE_FAILED = 2**62


@dataclass
class _Chunk:
    items: list[BatchInput]
    results: list[BatchResult] | None = None  # None: not back yet


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    chunks: deque[_Chunk] = field(default_factory=deque)
    stopped: bool = False


def run_in_workers(
    binary: ResolvedBinary,
    inputs: Iterable[BatchInput],
    config: RunConfig,
    registry: Registry,
    tracer: BatchTracer,
    summary: BatchSummary,
    deliver: Callable[[list[BatchResult]], None],
    *,
    jobs: int,
    fail_fast: bool,
) -> None:
    ctx: Any = multiprocessing.get_context("spawn")
    first_failure = ctx.Value("q", _NONE_FAILED)  # the lowest failed index, with --fail-fast
    workers = [
        _start(ctx, binary, config, registry, tracer, first_failure if fail_fast else None)
        for _ in range(jobs)
    ]
    pool = _Pool(workers, iter(inputs), tracer, summary, deliver, fail_fast, first_failure)
    try:
        pool.run()
    except (KeyboardInterrupt, Terminated) as stop:
        summary.stopped_by = signal_of(stop)
        ignore_stop_signals()
        pool.stop(summary.stopped_by)
    finally:
        pool.close()


class _Pool:
    def __init__(
        self,
        workers: list[_Worker],
        inputs: Iterator[BatchInput],
        tracer: BatchTracer,
        summary: BatchSummary,
        deliver: Callable[[list[BatchResult]], None],
        fail_fast: bool,
        first_failure: Any,
    ) -> None:
        self.workers = workers
        self.inputs = inputs
        self.tracer = tracer
        self.summary = summary
        self.deliver = deliver
        self.fail_fast = fail_fast
        self.first_failure = first_failure
        self.order: deque[_Chunk] = deque()  # every chunk sent, in input order
        self.exhausted = False
        self.chunk_size = 1
        self.stopping = False

    def run(self) -> None:
        while True:
            self._send_chunks()
            busy = [w for w in self.workers if w.chunks and not w.stopped]
            if not busy:
                return
            for conn in wait([w.conn for w in busy]):
                self._receive(next(w for w in busy if w.conn is conn))
            self._deliver_ready()

    def _send_chunks(self) -> None:
        for worker in self.workers:
            while not self.exhausted and not worker.stopped and len(worker.chunks) < IN_FLIGHT:
                if self.fail_fast and self.summary.failed_fast:
                    self.exhausted = True
                    break
                items = self._next_items()
                if not items:
                    self.exhausted = True
                    break
                chunk = _Chunk(items)
                worker.conn.send(items)
                worker.chunks.append(chunk)
                self.order.append(chunk)

    def _next_items(self) -> list[BatchInput]:
        items = []
        for item in self.inputs:
            items.append(item)
            if len(items) >= self.chunk_size:
                break
        return items

    def _receive(self, worker: _Worker) -> None:
        try:
            results, traces, stopped_by, counts, warnings = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        chunk = worker.chunks.popleft()
        chunk.results = results
        self.summary.traces_recorded += counts[0]
        self.summary.traces_not_kept += counts[1]
        self.summary.warnings.extend(w for w in warnings if w not in self.summary.warnings)
        if traces:  # a tracer without a store: the worker's traces are kept here
            self.tracer.keep(traces)
        self._learn_speed(results)
        if stopped_by is not None:  # the worker was stopped: its queued chunks never ran
            worker.stopped = True
            for queued in worker.chunks:
                queued.results = []
            worker.chunks.clear()

    def _lost(self, worker: _Worker) -> None:
        """A worker died without reporting: its chunks' inputs get an internal error."""
        worker.stopped = True
        worker.process.join(1)
        for chunk in worker.chunks:
            if self.stopping:  # killed while the batch stops: not known to have run
                chunk.results = []
            else:
                chunk.results = [_died(item, worker.process.exitcode) for item in chunk.items]
        worker.chunks.clear()

    def _learn_speed(self, results: list[BatchResult]) -> None:
        ran = [r.duration_ms for r in results if r.duration_ms]
        if not ran:
            return
        seconds = sum(ran) / len(ran) / 1000
        self.chunk_size = max(1, min(MAX_CHUNK, int(CHUNK_TARGET_S / max(seconds, 1e-6))))

    def _deliver_ready(self) -> None:
        while self.order and self.order[0].results is not None:
            results = self.order.popleft().results or []
            if self.summary.failed_fast:
                continue  # past the first failure: not part of a fail-fast batch
            ready = []
            for result in results:
                ready.append(result)
                if self.fail_fast and not result.success:
                    self.summary.failed_fast = True
                    _lower(self.first_failure, result.index)
                    break
            if ready:
                self.deliver(ready)

    def stop(self, signum: int) -> None:
        """Pass the signal on, then collect what every worker finished."""
        self.stopping = True
        for worker in self.workers:
            if worker.process.is_alive():
                try:
                    os.kill(worker.process.pid or 0, signum)
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_GRACE_S
        while True:
            busy = [w for w in self.workers if w.chunks and not w.stopped]
            remaining = deadline - time.monotonic()
            if not busy or remaining <= 0:
                break
            for conn in wait([w.conn for w in busy], timeout=remaining):
                self._receive(next(w for w in busy if w.conn is conn))
        for chunk in self.order:
            if chunk.results is None:
                chunk.results = []  # never reported: nothing of it is known to have run
        # Everything that finished, in input order; inputs that did not run are left out.
        finished = sorted((r for c in self.order for r in c.results or []), key=_index)
        self.order.clear()
        if finished:
            self.deliver(finished)

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except OSError:
                pass
        for worker in self.workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(1)
            worker.conn.close()


def _lower(first_failure: Any, index: int) -> None:
    with first_failure.get_lock():
        first_failure.value = min(first_failure.value, index)


def _index(result: BatchResult) -> int:
    return result.index


def _died(item: BatchInput, exitcode: int | None) -> BatchResult:
    message = (
        f"the batch worker process died (exit status {exitcode}) before this input finished "
        "(this is a bug in wasmcli; please report it)"
    )
    data = {
        "index": item.index,
        "id": item.id,
        "output": "",
        "success": False,
        "trace_id": None,
        "error": RunError(ErrorKind.INTERNAL, message).to_dict(),
    }
    return BatchResult(
        item.index, data, ErrorKind.INTERNAL.value, ErrorKind.INTERNAL.exit_code, None, 0.0
    )


# -- the worker side ---------------------------------------------------------------------


def _start(
    ctx: Any,
    binary: ResolvedBinary,
    config: RunConfig,
    registry: Registry,
    tracer: BatchTracer,
    first_failure: Any,
) -> _Worker:
    parent_end, child_end = ctx.Pipe(duplex=True)
    settings = (tracer.enabled, tracer.max_traces, tracer.store is not None, tracer.batch_id)
    process = ctx.Process(
        target=_worker_main,
        args=(child_end, binary, config, registry.home, settings, first_failure),
        # Not a daemon: a worker on wasmer keeps a child of its own. A worker ends when
        # told to, or when the parent is gone (its pipe closes).
        daemon=False,
    )
    process.start()
    child_end.close()
    return _Worker(process, parent_end)


def _worker_main(
    conn: Connection,
    binary: ResolvedBinary,
    config: RunConfig,
    home: Any,
    settings: tuple[bool, int, bool, str],
    first_failure: Any,
) -> None:
    # A fresh interpreter: SIGTERM and SIGHUP stop the run under way as in the parent
    # (its trace kept), and so does SIGINT (Python's default).
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, raise_terminated)
    try:
        _serve(conn, binary, config, home, settings, first_failure)
    finally:
        os._exit(0)  # never the parent's atexit handlers or its inherited buffers


def _serve(
    conn: Connection,
    binary: ResolvedBinary,
    config: RunConfig,
    home: Any,
    settings: tuple[bool, int, bool, str],
    first_failure: Any,
) -> None:
    enabled, max_traces, stored, batch_id = settings
    registry = Registry(home)  # a connection of our own: never the parent's
    store = TraceStore(registry.conn) if stored and enabled else None
    tracer = BatchTracer(Tracer(enabled, max_traces, store), batch_id)
    runner = BatchRunner(binary, config, registry, tracer)
    try:
        while True:
            try:
                chunk = conn.recv()
            except (EOFError, OSError):
                return
            except (KeyboardInterrupt, Terminated) as stop:
                ignore_stop_signals()
                conn.send(([], [], signal_of(stop), (0, 0), []))
                return
            if chunk is None:
                return
            if not _run_chunk(conn, chunk, runner, tracer, first_failure):
                return
    finally:
        runner.close()


def _run_chunk(
    conn: Connection,
    chunk: list[BatchInput],
    runner: BatchRunner,
    tracer: BatchTracer,
    first_failure: Any,
) -> bool:
    """Run a chunk and report it; False when a signal stopped us."""
    results: list[BatchResult] = []
    stopped_by: int | None = None
    try:
        for item in chunk:
            if first_failure is not None and item.index > first_failure.value:
                continue  # --fail-fast: an earlier input failed
            result = runner.run(item)
            results.append(result)
            if first_failure is not None and not result.success:
                _lower(first_failure, item.index)
    except (KeyboardInterrupt, Terminated) as stop:
        stopped_by = signal_of(stop)
        ignore_stop_signals()
    # A tracer without a store: the traces go back to the parent's tracer.
    traces: list[ExecutionTrace] = [] if tracer.store is not None else list(tracer.pending)
    summary = BatchSummary(tracer.batch_id)
    flushed: list[BatchResult] = []
    flusher = ResultFlusher(tracer, summary, flushed.extend)
    flusher.pending = results
    flusher.flush()
    counts = (summary.traces_recorded, summary.traces_not_kept)
    conn.send((flushed, traces, stopped_by, counts, summary.warnings))
    return stopped_by is None
