"""Running a session in a child process that the parent kills at the deadline.

wasmer's calls hold the GIL and it has no interrupt, so nothing inside the process can
stop an infinite loop. The parent forks a child that runs the whole session (compile,
instantiate, calls) and relays its events and log lines through a pipe, stamped with
the child's monotonic clock (system-wide on Linux, so timestamps line up with the
parent's trace). The wall-clock limit starts when the child is about to run wasm code
(compiling is not the plugin's time, as with wasmtime); at the deadline the parent
kills the child and reports a timeout. A child that dies any other way (a signal, a
crash in the engine) is reported as an internal error. Either way the parent still
holds every event relayed so far, so the trace is stored.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

from wasmcli.engines.base import Engine, compile_error
from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.runtime.session import (
    SessionOutcome,
    SessionRequest,
    run_session,
    unknown_fuel_checkpoint,
)
from wasmcli.tracing.events import TraceEventType

# Compiling is not covered by the plugin's timeout, but a module crafted to compile
# forever must not hang wasmcli either.
COMPILE_LIMIT_S = 120.0
_CHILD_GRACE_S = 1.0
_PR_SET_PDEATHSIG = 1


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


def _child_main(engine: Engine, request: SessionRequest, conn: Connection, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    # Ctrl-C reaches the whole process group; the parent handles it (and kills us).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sink = _RelaySink(conn, request.limits.timeout_ms)
    try:
        try:
            outcome = run_session(engine, request, sink)
            final: tuple[Any, ...] = (
                "done",
                outcome.return_code,
                outcome.fuel_consumed,
                outcome.memory_pages,
            )
        except WasmcliError as error:
            details = {
                k: v for k, v in error.details.items() if isinstance(v, (str, int, type(None)))
            }
            final = ("error", error.kind.value, error.message, list(error.backtrace), details)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent as internal
            final = ("error", ErrorKind.INTERNAL.value, f"{type(exc).__name__}: {exc}", [], {})
        sink.send(final)
        conn.close()
    finally:
        # Never run the parent's atexit handlers or flush its inherited stdio buffers.
        os._exit(0)


def run_isolated(engine: Engine, request: SessionRequest, sink: Any) -> SessionOutcome:
    """Run `run_session` in a child process; the parent enforces the wall-clock limit."""
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx: Any = multiprocessing.get_context(method)
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child_main, args=(engine, request, sender, os.getpid()), daemon=True
    )
    child.start()
    sender.close()
    try:
        return _relay(child, receiver, request, sink)
    except BaseException:
        _kill(child)
        raise
    finally:
        receiver.close()
        child.join(5)


def _relay(
    child: multiprocessing.process.BaseProcess,
    receiver: Connection,
    request: SessionRequest,
    sink: Any,
) -> SessionOutcome:
    deadline = time.monotonic() + COMPILE_LIMIT_S
    armed = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not receiver.poll(remaining):
            if time.monotonic() < deadline:
                continue
            _kill(child)
            _drain(receiver, sink)  # what the child said before it was killed
            if armed:
                unknown_fuel_checkpoint(request.limits, sink)  # its counter died with it
                raise WasmcliError(ErrorKind.TIMEOUT, "Execution timeout")
            raise compile_error(f"compiling took longer than {COMPILE_LIMIT_S:g} s")
        try:
            item = receiver.recv()
        except (EOFError, OSError):
            raise _child_died(child) from None
        if item[0] == "arm":
            # The plugin's time starts now, measured on the child's clock.
            armed = True
            deadline = item[1] / 1e9 + request.limits.timeout_ms / 1000
        else:
            outcome = _handle(item, sink)
            if outcome is not None:
                return outcome


def _handle(item: tuple[Any, ...], sink: Any) -> SessionOutcome | None:
    """Pass one message on to the sink; the outcome when it is the last one."""
    tag = item[0]
    if tag == "event":
        _, at_ns, event_type, message, metadata = item
        sink.event_at(at_ns, TraceEventType(event_type), message, metadata)
    elif tag == "log":
        _, at_ns, line, size = item
        sink.log_at(at_ns, line, size)
    elif tag == "done":
        _, return_code, fuel_consumed, memory_pages = item
        return SessionOutcome(return_code, fuel_consumed, memory_pages)
    elif tag == "error":
        _, kind, message, backtrace, details = item
        raise WasmcliError(ErrorKind(kind), message, backtrace=backtrace, details=details)
    return None


def _drain(receiver: Connection, sink: Any) -> None:
    try:
        while receiver.poll(0):
            item = receiver.recv()
            if item[0] in ("event", "log"):
                _handle(item, sink)
    except (EOFError, OSError):
        pass


def _child_died(child: multiprocessing.process.BaseProcess) -> WasmcliError:
    child.join(5)
    code = child.exitcode
    if code == -signal.SIGALRM:  # the child's own deadline fired first
        return WasmcliError(ErrorKind.TIMEOUT, "Execution timeout")
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
        details={"stage": "engine_process"},
    )


def _kill(child: multiprocessing.process.BaseProcess) -> None:
    if child.is_alive():
        child.kill()
    child.join(5)
