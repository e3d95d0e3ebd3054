"""The Tracer: hands out a recorder per run and keeps the finished traces.

The API follows the original tracer (`Tracer(enabled, max_traces)`, `get_traces`,
`get_trace`, `clear_traces`, `export_traces`). With a `TraceStore` the traces live in
wasmcli.db (the CLI's case); without one they are kept in memory, newest first.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Sequence
from datetime import datetime

from wasmcli.store.traces import TraceFilter, TraceStore
from wasmcli.tracing.events import ExecutionTrace
from wasmcli.tracing.recorder import DEFAULT_MAX_LOG_EVENTS, NullRecorder, TraceRecorder


class Tracer:
    def __init__(
        self,
        enabled: bool = True,
        max_traces: int = 100,
        store: TraceStore | None = None,
        max_log_events: int = DEFAULT_MAX_LOG_EVENTS,
        max_trace_bytes: int | None = None,
    ) -> None:
        self.enabled = enabled
        self.max_traces = max_traces
        self.max_trace_bytes = max_trace_bytes  # total stored size kept; None: no bound
        self.store = store
        self.max_log_events = max_log_events
        self._memory: deque[ExecutionTrace] = deque()

    def is_enabled(self) -> bool:
        return self.enabled

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled

    def start(
        self,
        binary_id: str | None = None,
        binary_name: str | None = None,
        engine: str | None = None,
    ) -> TraceRecorder:
        if not self.enabled:
            # A fresh one per run: a recorder is written to (set_binary), and runs in
            # other threads must not share it. It costs no clock and no uuid.
            return NullRecorder()
        return TraceRecorder(
            binary_id, binary_name, engine, self.max_log_events, batch_id=self.batch_id
        )

    @property
    def batch_id(self) -> str | None:
        """The batch the traces started here belong to (None: single runs)."""
        return None

    def complete(self, trace: ExecutionTrace) -> bool:
        """Keep a finished trace, dropping the oldest beyond max_traces (and, in a store,
        beyond max_trace_bytes); whether this trace is kept."""
        if not self.enabled:
            return False
        if self.store is not None:
            return self.store.save(trace, self.max_traces, self.max_trace_bytes)
        return trace.trace_id in self.keep([trace])

    def keep(self, traces: Sequence[ExecutionTrace]) -> set[str]:
        """Keep finished traces together (one transaction in the store); the ids of
        those kept after retention."""
        if self.store is not None:
            return self.store.save_many(traces, self.max_traces, self.max_trace_bytes)
        for trace in traces:
            self._memory.appendleft(trace)
        while len(self._memory) > self.max_traces:
            self._memory.pop()
        return {trace.trace_id for trace in self._memory} & {t.trace_id for t in traces}

    def get_traces(
        self,
        binary_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        success: bool | None = None,
        limit: int | None = None,
    ) -> list[ExecutionTrace]:
        """Traces newest first, filtered."""
        query = TraceFilter(binary_id, None, since, until, success, limit)
        if self.store is not None:
            return self.store.list(query)
        matching = [trace for trace in self._memory if _matches(trace, query)]
        return matching[:limit] if limit is not None else matching

    def get_trace(self, trace_id: str) -> ExecutionTrace | None:
        """A trace by id or unique id prefix, or None."""
        if self.store is not None:
            from wasmcli.errors import WasmcliError

            try:
                return self.store.get(trace_id)
            except WasmcliError:
                return None
        found = [trace for trace in self._memory if trace.trace_id.startswith(trace_id)]
        return found[0] if len(found) == 1 else None

    def clear_traces(self) -> int:
        if self.store is not None:
            return self.store.delete()
        count = len(self._memory)
        self._memory.clear()
        return count

    def export_traces(self, fmt: str = "json") -> str:
        from wasmcli.tracing.export import export_traces

        return export_traces(self.get_traces(), fmt)


class BatchTracer(Tracer):
    """The tracer of one `run --batch`: every trace carries the batch id, and finished
    traces wait in memory until `flush` writes them in one transaction (the batch runner
    flushes before it reports the results whose traces they are)."""

    def __init__(self, tracer: Tracer, batch_id: str | None = None) -> None:
        super().__init__(tracer.enabled, tracer.max_traces, tracer.store, tracer.max_log_events)
        self._memory = tracer._memory
        self._batch_id = batch_id or str(uuid.uuid4())
        self.pending: list[ExecutionTrace] = []

    @property
    def batch_id(self) -> str:
        return self._batch_id

    def complete(self, trace: ExecutionTrace) -> bool:
        """Hold the trace for `flush`; True while it waits (the batch runner drops the
        trace id of a result whose trace the flush did not keep)."""
        if not self.enabled:
            return False
        self.pending.append(trace)
        return True

    def flush(self) -> set[str]:
        """Write the waiting traces; the ids of those kept after retention."""
        if not self.pending:
            return set()
        kept = self.keep(self.pending)  # a failure or a signal leaves them pending
        self.pending = []
        return kept


def _matches(trace: ExecutionTrace, query: TraceFilter) -> bool:
    return (
        (query.binary_id is None or trace.binary_id == query.binary_id)
        and (query.binary_name is None or trace.binary_name == query.binary_name)
        and (query.since is None or trace.started_at >= query.since)
        and (query.until is None or trace.started_at <= query.until)
        and (query.success is None or trace.success == query.success)
        and (query.batch_id is None or trace.batch_id == query.batch_id)
    )
