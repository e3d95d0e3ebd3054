"""Sessions in a child process (engines that need isolation: wasmer), and the profile of
a profiled run whose child was killed.

A run in a child that is killed (at its deadline, or for a signal to wasmcli) loses what
the child held. Its profile need not be lost: a profiled run's child writes its events
into a journal it shares with this process (engines/profile_journal.py), and once the
child is dead the profile up to its last event is recovered from there and recorded
like the one a session records itself: after the closing fuel checkpoint, with the
outcome `timeout`, `interrupted` or `terminated`.
"""

from __future__ import annotations

import signal
from functools import partial
from typing import TYPE_CHECKING, Any

from wasmcli.engines.base import Engine
from wasmcli.errors import Terminated, stopped_by_signal
from wasmcli.runtime.session import (
    SessionOutcome,
    SessionRequest,
    SessionSink,
    record_profile,
    run_session,
    unknown_fuel_checkpoint,
)

if TYPE_CHECKING:
    from wasmcli.engines.isolation import IsolatedWorker
    from wasmcli.engines.profile_journal import ProfileJournal


class IsolatedRunner:
    """Runs sessions in a child process: a new one per run, or (`reuse`: a batch) one
    kept for every run until `close()`."""

    def __init__(self, reuse: bool) -> None:
        self._reuse = reuse
        self._worker: IsolatedWorker | None = None
        self._journal: ProfileJournal | None = None

    def run(self, engine: Engine, request: SessionRequest, sink: Any) -> SessionOutcome:
        """`sink`: a RelayTarget and a SessionSink (the executor's RunSink)."""
        from wasmcli.engines.isolation import IsolatedWorker, run_isolated

        journal = self._journal_for(request)
        if self._reuse:
            if self._worker is None:
                self._worker = IsolatedWorker(inherit=journal)
            run: Any = self._worker.run
        else:
            run = partial(run_isolated, inherit=journal)
        try:
            outcome: SessionOutcome = run(
                partial(run_session, engine, request),
                sink,
                request.limits.timeout_ms,
                on_timeout=partial(self._timed_out, request, sink, journal),
            )
        except (KeyboardInterrupt, Terminated) as exc:  # the child was killed for it
            signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
            _recorded_profile(journal, request, stopped_by_signal(signum).kind.value, sink)
            raise
        return outcome

    def close(self) -> None:
        """End the child kept for runs, if any."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()

    def _journal_for(self, request: SessionRequest) -> ProfileJournal | None:
        """The journal this run's child writes its profile into (profiled runs, where a
        child can share memory), emptied for this run."""
        from wasmcli.engines.isolation import can_share

        if not request.limits.profile or not can_share():
            return None
        if self._journal is None:
            if self._worker is not None:  # its child was forked without one
                return None
            from wasmcli.engines.profile_journal import ProfileJournal

            self._journal = ProfileJournal()
        self._journal.reset()
        return self._journal

    @staticmethod
    def _timed_out(
        request: SessionRequest, sink: SessionSink, journal: ProfileJournal | None
    ) -> None:
        unknown_fuel_checkpoint(request.limits, sink)  # the child's counter died with it
        _recorded_profile(journal, request, "timeout", sink)


def _recorded_profile(
    journal: ProfileJournal | None, request: SessionRequest, outcome: str, sink: SessionSink
) -> None:
    if journal is None:
        return
    from wasmcli.engines.profiler import depth_refund, module_names

    profiler = journal.recover(depth_refund(request.limits.max_call_depth))
    if profiler is not None:
        record_profile(profiler.finish(outcome, None, module_names(request.wasm)), sink)


__all__ = ["IsolatedRunner"]
