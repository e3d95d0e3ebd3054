"""Running a task (the runtime's session) in a child process killed at the deadline.

wasmer's calls hold the GIL and it has no interrupt, so nothing inside the process can
stop an infinite loop. The parent forks a child that runs the task it is handed (the
runtime passes the whole session: compile, instantiate, calls) and relays its events,
log lines and stages through a pipe, stamped with the child's monotonic clock
(system-wide on Linux, so timestamps line up with the parent's trace). Compiling is
bounded by engines.base.COMPILE_LIMIT_S (exit 3); the wall-clock limit starts when the
child is about
to run wasm code; at the deadline the parent kills the child and reports a timeout at
the stage the child had reached. A child that dies any other way (a signal, a crash in
the engine) is an internal error. A signal to the parent (Ctrl-C, SIGTERM, SIGHUP) kills
the child too. Whatever happens, the parent holds every event relayed so far, so the
trace is stored. This module knows nothing of the runtime: it runs a callable.

A caller may hand the child an object to share (`inherit`: with `fork`, the child gets
it as the parent made it, memory maps and open files included; `inherited()` in the
child returns it): what the child writes there outlives its kill (a profiled run's
journal, engines/profile_journal.py).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

from wasmcli.engines import base
from wasmcli.engines.faults import compile_error, timed_out
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.tracing.events import TraceEventType

_CHILD_GRACE_S = 1.0
# Runs in several threads fork at once. A child forked while another run's pipe and
# sentinel still had their write ends open in this process would keep them open: that
# run would then wait for the wrong child to end (seen: a 300 ms timeout reported after
# the 2 s of a run in another thread). Each run creates its pipes and forks under this
# lock, and has closed its write ends before another run may fork.
_FORK_LOCK = threading.Lock()
_PR_SET_PDEATHSIG = 1
_FORK = sys.platform.startswith("linux")
# The parent waits for its child in slices this long. Python runs a signal's handler
# between bytecodes; a signal that lands after the last check but before a blocking
# poll begins would be handled only when that poll ends, at the run's deadline (seen:
# a SIGHUP forwarded by the daemon, handled 120 s late). Between slices it is handled.
_SIGNAL_SLICE_S = 0.05


class _RelaySink:
    """The child's sink: sends each event and log line to the parent as it happens.

    Nothing is held back in this process: the plugin may loop forever right after a log
    line, and the parent then kills us. What is in the pipe survives that.
    """

    def __init__(self, conn: Connection, timeout_ms: int) -> None:
        self.conn = conn
        self.timeout_ms = timeout_ms

    def event(self, event_type: TraceEventType, message: str, **metadata: Any) -> None:
        self.conn.send(("event", time.monotonic_ns(), event_type.value, message, metadata))

    def log(self, line: str, size: int) -> None:
        self.conn.send(("log", time.monotonic_ns(), line, size))

    def stage(self, name: str) -> None:
        self.conn.send(("stage", time.monotonic_ns(), name))

    def wasm_starting(self) -> None:
        self.conn.send(("arm", time.monotonic_ns()))
        # A safety net that needs no GIL and no parent: SIGALRM's default action ends
        # the process. The parent kills us at the deadline; this fires a little later,
        # only if the parent could not (it was killed itself, say).
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, self.timeout_ms / 1000 + _CHILD_GRACE_S)

    def send(self, item: tuple[Any, ...]) -> None:
        self.conn.send(item)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to kill this process when its parent dies: a killed wasmcli must not
    leave a plugin running (it would spin until its own deadline otherwise)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


Outcome = TypeVar("Outcome")
Task = Callable[[_RelaySink], Outcome]


class RelayTarget(Protocol):
    """The parent's side: what the child reported, with the child's timestamps."""

    def event_at(
        self, at_ns: int, event_type: TraceEventType, message: str, metadata: dict[str, Any]
    ) -> None: ...

    def log_at(self, at_ns: int, line: str, size: int) -> None: ...

    def stage(self, name: str) -> None: ...


_INHERITED: object | None = None


def inherited() -> object | None:
    """In a child: what its parent handed it to share (`inherit`); None elsewhere."""
    return _INHERITED


def can_share() -> bool:
    """Whether a child can be handed an object to share (it is forked: Linux)."""
    return _FORK


def _child_main(
    task: Task[Any], timeout_ms: int, conn: Connection, parent_pid: int, inherit: object
) -> None:
    _become_child(parent_pid, inherit)
    try:
        _run_task(task, _RelaySink(conn, timeout_ms))
        conn.close()
    finally:
        # Never run the parent's atexit handlers or flush its inherited stdio buffers.
        os._exit(0)


def _worker_main(conn: Connection, parent_pid: int, inherit: object) -> None:
    """A kept child (IsolatedWorker): runs the tasks the parent sends until told to stop."""
    _become_child(parent_pid, inherit)
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message is None:
                break
            task, timeout_ms = message
            _run_task(task, _RelaySink(conn, timeout_ms))
            signal.setitimer(signal.ITIMER_REAL, 0)  # that run's safety net is done
    finally:
        os._exit(0)


def _become_child(parent_pid: int, inherit: object) -> None:
    global _INHERITED
    _INHERITED = inherit
    _die_with_parent(parent_pid)
    # Signals meant for wasmcli reach the whole process group (a Ctrl-C, a CI runner's
    # SIGTERM to the group): the parent handles them, and kills us.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _run_task(task: Task[Any], sink: _RelaySink) -> None:
    """Run one task and send its outcome (or its error) as the last message."""
    try:
        outcome = task(sink)
        final: tuple[Any, ...] = ("done", time.monotonic_ns(), outcome)
    except WasmcliError as error:
        final = ("error", time.monotonic_ns(), error.to_wire())
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as internal
        message = f"{type(exc).__name__}: {exc}"
        wire = WasmcliError(ErrorKind.INTERNAL, message).to_wire()
        final = ("error", time.monotonic_ns(), wire)
    sink.send(final)


def run_isolated(
    task: Task[Outcome],
    sink: RelayTarget,
    timeout_ms: int,
    on_timeout: Callable[[], None] = lambda: None,
    inherit: object | None = None,
) -> Outcome:
    """Run `task` in a child process; the parent enforces the compile and wall-clock
    limits. `on_timeout` runs after a child killed at the deadline has been drained.
    `inherit`: an object to share with the child (only where `can_share()`)."""
    ctx: Any = multiprocessing.get_context("fork" if _FORK else "spawn")
    with _FORK_LOCK:
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(
            target=_child_main,
            args=(task, timeout_ms, sender, os.getpid(), inherit),
            daemon=True,
        )
        child.start()
        sender.close()
    try:
        outcome: Outcome = _Relay(child, receiver, sink, timeout_ms, on_timeout).run()
        return outcome
    except BaseException:  # a signal to us (KeyboardInterrupt, Terminated), or a failure
        _kill(child)
        _drain(receiver, sink)  # what the child said before it was killed
        raise
    finally:
        receiver.close()
        child.join(5)


class IsolatedWorker:
    """A child process kept for many runs (a batch on wasmer): forked on the first run,
    and again only after a run in it was killed (a timeout, a signal) or it died. Each
    run has the same limits and relay as `run_isolated`; a child that stays keeps what
    it loaded (the compiled module) for the next run. `inherit`: an object every child
    shares with the parent (see `run_isolated`)."""

    def __init__(self, inherit: object | None = None) -> None:
        self._child: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._inherit = inherit

    def run(
        self,
        task: Task[Outcome],
        sink: RelayTarget,
        timeout_ms: int,
        on_timeout: Callable[[], None] = lambda: None,
    ) -> Outcome:
        child, conn = self._ready()
        try:
            conn.send((task, timeout_ms))
            outcome: Outcome = _Relay(child, conn, sink, timeout_ms, on_timeout).run()
            return outcome
        except WasmcliError:
            if not child.is_alive():  # killed at its deadline, or died
                self._discard()
            raise
        except BaseException:  # a signal to us, or a failure: the run must stop now
            _kill(child)
            _drain(conn, sink)
            self._discard()
            raise

    def _ready(self) -> tuple[multiprocessing.process.BaseProcess, Connection]:
        if self._child is not None and self._conn is not None and self._child.is_alive():
            return self._child, self._conn
        self._discard()
        ctx: Any = multiprocessing.get_context("fork" if _FORK else "spawn")
        with _FORK_LOCK:
            parent_end, child_end = ctx.Pipe(duplex=True)
            child = ctx.Process(
                target=_worker_main, args=(child_end, os.getpid(), self._inherit), daemon=True
            )
            child.start()
            child_end.close()
        self._child, self._conn = child, parent_end
        return child, parent_end

    def _discard(self) -> None:
        child, conn = self._child, self._conn
        self._child = self._conn = None
        if conn is not None:
            conn.close()
        if child is not None:
            _kill(child)

    def close(self) -> None:
        """Tell the child to stop (killed if it does not within a second)."""
        if self._conn is not None and self._child is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass
            self._child.join(1)
        self._discard()


class _Relay:
    """The parent's loop: pass on what the child says, kill it at the deadline."""

    def __init__(
        self,
        child: multiprocessing.process.BaseProcess,
        receiver: Connection,
        sink: RelayTarget,
        timeout_ms: int,
        on_timeout: Callable[[], None],
    ) -> None:
        self.child = child
        self.receiver = receiver
        self.sink = sink
        self.timeout_ms = timeout_ms
        self.on_timeout = on_timeout
        self.deadline = time.monotonic() + base.COMPILE_LIMIT_S
        self.armed = False
        self.stage = "load"

    def run(self) -> Any:
        while True:
            # Whatever the child sent is read before the deadline is judged, and judged
            # by the child's own clock: a parent that fell behind reading does not turn
            # a run that ended in time into a timeout.
            if not self._wait():
                raise self._deadline_passed()
            try:
                item = self.receiver.recv()
            except (EOFError, OSError):
                raise _child_died(self.child).at(stage=self.stage) from None
            if item[1] / 1e9 > self.deadline:  # the child was still at work at the deadline
                if item[0] in ("event", "log", "stage"):
                    _handle(item, self.sink)
                raise self._deadline_passed()
            if item[0] == "arm":
                # The plugin's time starts now, measured on the child's clock.
                self.armed = True
                self.deadline = item[1] / 1e9 + self.timeout_ms / 1000
                continue
            if item[0] == "stage":
                self.stage = item[2]
            done, outcome = _handle(item, self.sink)
            if done:
                return outcome

    def _wait(self) -> bool:
        """True when the child has said something, False at the deadline."""
        while True:
            remaining = self.deadline - time.monotonic()
            if self.receiver.poll(max(min(remaining, _SIGNAL_SLICE_S), 0)):
                return True
            if remaining <= _SIGNAL_SLICE_S:
                return False

    def _deadline_passed(self) -> WasmcliError:
        _kill(self.child)
        _drain(self.receiver, self.sink)  # what the child said before it was killed
        if not self.armed:
            return compile_error(f"compiling took longer than {base.COMPILE_LIMIT_S:g} s")
        self.on_timeout()  # e.g. the fuel checkpoint: the child's counter died with it
        return timed_out().at(stage=self.stage)


def _handle(item: tuple[Any, ...], sink: RelayTarget) -> tuple[bool, Any]:
    """Pass one message on to the sink; (True, the outcome) when it is the last one."""
    tag = item[0]
    if tag == "event":
        _, at_ns, event_type, message, metadata = item
        sink.event_at(at_ns, TraceEventType(event_type), message, metadata)
    elif tag == "log":
        _, at_ns, line, size = item
        sink.log_at(at_ns, line, size)
    elif tag == "stage":
        sink.stage(item[2])
    elif tag == "done":
        return True, item[2]
    elif tag == "error":
        raise WasmcliError.from_wire(item[2])
    return False, None


def _drain(receiver: Connection, sink: RelayTarget) -> None:
    try:
        while receiver.poll(0):
            item = receiver.recv()
            if item[0] in ("event", "log", "stage"):
                _handle(item, sink)
    except (EOFError, OSError):
        pass


def _child_died(child: multiprocessing.process.BaseProcess) -> WasmcliError:
    child.join(5)
    code = child.exitcode
    if code == -signal.SIGALRM:  # the child's own deadline fired first
        return timed_out()
    if code is not None and code < 0:
        try:
            how = f"signal {signal.Signals(-code).name}"
        except ValueError:
            how = f"signal {-code}"
    else:
        how = f"exit status {code}"
    return WasmcliError(
        ErrorKind.INTERNAL,
        f"The engine process died ({how}) before the run finished "
        "(this is a bug in wasmcli or the engine; please report it with the trace id)",
        stage="engine_process",
    )


def _kill(child: multiprocessing.process.BaseProcess) -> None:
    if child.is_alive():
        child.kill()
    child.join(5)
