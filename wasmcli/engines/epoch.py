"""One clock for every wasmtime run in the process, and each run's own deadline.

wasmtime interrupts running code when the engine's epoch passes a store's deadline. A
single daemon thread (the ticker) advances the epoch every `TICK_S` while at least one
run is active and sleeps otherwise, so an idle process pays nothing and a run pays no
thread start. Each run keeps its own wall-clock deadline: its store asks to be woken
every few ticks (`CHECK_TICKS`, through wasmtime's epoch-deadline callback), and the
callback, running on the run's own thread, decides whether to let the plugin go on or
to stop it. One run's deadline can therefore never stop another run.

Signals: Python runs signal handlers in the main thread between bytecodes, so during a
wasm call they run inside the epoch callback (or host.log). An exception raised there
cannot cross wasmtime (ctypes would drop it and crash), so while a main-thread run is
inside wasm, `DeferredSignals` swaps the handlers that would raise (SIGINT's default,
`wasmcli.errors.raise_terminated` for SIGTERM/SIGHUP) for one that only marks the run
stopped. The next callback (within CHECK_TICKS) stops the plugin, and the adapter
reports `interrupted` or `terminated`; the runtime re-raises it once the trace is kept.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # CPython's C half of `signal`
import ctypes
import itertools
import math
import signal
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from wasmcli.errors import raise_terminated

TICK_S = 0.005
# How often (in ticks) a running store checks its deadline and the signals: a Ctrl-C
# stops a plugin within about 50 ms, at 20 callbacks a second per running plugin.
CHECK_TICKS = 10
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Run:
    """One run's deadline and why it was stopped (None while it may go on)."""

    def __init__(self, ticker: Ticker, timeout_ms: int) -> None:
        self.ticker = ticker
        self.deadline = time.monotonic() + timeout_ms / 1000
        self.stopped_by: int | None = None  # the signal that stopped the run
        self.timed_out = False

    def ticks_to_next_check(self) -> int:
        """The store's next epoch deadline, in ticks from now."""
        remaining = self.deadline - time.monotonic()
        return max(1, min(CHECK_TICKS, math.ceil(remaining / TICK_S)))

    def should_stop(self) -> bool:
        """Called by the store's epoch callback, on the run's own thread."""
        if self.stopped_by is not None:
            return True
        if time.monotonic() >= self.deadline:
            self.timed_out = True
            return True
        return False

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


class Ticker:
    """The process's epoch clock (see the module docstring); one per wasmtime engine."""

    def __init__(self, increment_epoch: Callable[[], None]) -> None:
        self._increment = increment_epoch
        self._lock = threading.Condition()
        self._runs: set[Run] = set()
        self._thread: threading.Thread | None = None

    def attach(self, timeout_ms: int) -> Run:
        run = Run(self, timeout_ms)
        with self._lock:
            self._runs.add(run)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._tick_forever, name="wasmcli-epoch", daemon=True
                )
                self._thread.start()
            self._lock.notify()
        return run

    def detach(self, run: Run) -> None:
        with self._lock:
            self._runs.discard(run)

    def _tick_forever(self) -> None:
        while True:
            with self._lock:
                while not self._runs:
                    self._lock.wait()  # idle: no run, no ticks
            time.sleep(TICK_S)
            self._increment()


class DeferredSignals:
    """While a main-thread run is inside wasm: a stop signal marks the run stopped
    instead of raising (see the module docstring). Elsewhere it does nothing."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._saved: dict[int, Any] = {}

    def _record(self, signum: int, frame: object) -> None:
        if self.run.stopped_by is None:
            self.run.stopped_by = signum

    def __enter__(self) -> DeferredSignals:
        # The C module's calls: `signal.getsignal` tries to turn every handler into an
        # enum member and fails for functions, which cost more than a small plugin's run.
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                handler = _signal.getsignal(signum)
                if _stops_runs(signum, handler):
                    self._saved[signum] = handler
                    _signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc_info: object) -> None:
        saved, self._saved = self._saved, {}
        for signum, handler in saved.items():
            _signal.signal(signum, handler)


def _stops_runs(signum: int, handler: Any) -> bool:
    """A signal stops plugins when its handler would raise (end the program)."""
    if signum == signal.SIGINT:
        return handler is signal.default_int_handler
    return handler is raise_terminated


_CONTINUE = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
STOP_MESSAGE = b"wasmcli: run stopped at its deadline or by a signal"


def install_callback(store: Any, run: Run) -> Any:
    """Arm `store` to consult `run` every few ticks; returns the callback, which the
    caller keeps alive as long as the store.

    wasmtime's C API has `wasmtime_store_epoch_deadline_callback`; wasmtime-py binds it
    (in `_bindings`) without wrapping it, so the callback type comes from the binding.
    One callback serves every store (making a C callback per run costs more than a small
    plugin's run): the store's data pointer is the key of its run in `_RUNS`, and the
    finalizer forgets the run when wasmtime drops the store.
    """
    binding, callback, finalizer = _callbacks()
    key = next(_KEYS)
    _RUNS[key] = run
    binding(store.ptr(), callback, key, finalizer)
    store.set_epoch_deadline(run.ticks_to_next_check())
    return callback


_RUNS: dict[int, Run] = {}
_KEYS = itertools.count(1)


@lru_cache(maxsize=1)
def _callbacks() -> tuple[Any, Any, Any]:
    from wasmtime import _bindings, _ffi

    binding = _bindings._wasmtime_store_epoch_deadline_callback
    callback_type: Any = binding.argtypes[1]
    finalizer_type: Any = binding.argtypes[3]

    def stop() -> int:
        error: Any = _ffi.wasmtime_error_new(STOP_MESSAGE)
        return ctypes.cast(error, ctypes.c_void_p).value or 0

    def on_deadline(_context: Any, data: Any, delta: Any, kind: Any) -> int:
        run = _RUNS.get(data or 0)
        if run is None or run.should_stop():
            return stop()
        delta[0] = run.ticks_to_next_check()
        kind[0] = _CONTINUE
        return 0

    def forget(data: Any) -> None:
        _RUNS.pop(data or 0, None)

    return binding, callback_type(on_deadline), finalizer_type(forget)
