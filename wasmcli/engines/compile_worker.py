"""Compiling a large module for wasmtime in a separate process that can be killed.

wasmtime compiles inside the calling thread and cannot be interrupted, so a module
crafted to compile for minutes would hold wasmcli for minutes. Modules of at least
`IN_WORKER_BYTES` (when not already cached) are compiled here instead: a fresh
interpreter (spawned, not forked: wasmtime is not fork-safe) reads the module on stdin
and writes the serialized artifact on stdout; the parent kills it at COMPILE_LIMIT_S.
Smaller modules compile in-process: their compile time is bounded by their size (well
under a second below the threshold), and a new interpreter would cost them more than
compiling does.

The worker is the engine module itself run as a program (`python -m MODULE`), which
calls `serve` with its compile function: this module knows nothing of any engine.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from wasmcli.engines.faults import compile_error
from wasmcli.errors import WasmcliError

IN_WORKER_BYTES = 1 << 20
_PR_SET_PDEATHSIG = 1
_OK, _FAILED = b"OK", b"ER"


def compile_in_worker(wasm: bytes, limit_s: float, module: str) -> bytes:
    """The serialized module `python -m <module>` compiles; WasmcliError(LOAD) when it
    does not compile or takes longer than `limit_s`."""
    worker = subprocess.Popen(
        [sys.executable, "-m", module],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        answer, _ = worker.communicate(wasm, timeout=limit_s)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate()
        raise compile_error(f"compiling took longer than {limit_s:g} s") from None
    except BaseException:  # a signal to wasmcli: the worker goes too
        worker.kill()
        worker.communicate()
        raise
    if answer.startswith(_OK):
        return answer[len(_OK) :]
    if answer.startswith(_FAILED):
        raise compile_error(answer[len(_FAILED) :].decode("utf-8", "replace"))
    raise compile_error(f"the compiling process ended with status {worker.returncode}")


def _die_with_parent() -> None:
    """A killed wasmcli must not leave a compile running (Linux: PR_SET_PDEATHSIG)."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent or parent == 1:  # the parent died before prctl took effect
        os._exit(1)


def serve(compile_to_bytes: Callable[[bytes], bytes]) -> None:
    """The worker's side: the module on stdin, the artifact (or the error) on stdout."""
    _die_with_parent()
    # Signals for wasmcli reach its whole process group: wasmcli handles them (and kills
    # this worker); the worker must not die first with a traceback on the terminal.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    wasm = sys.stdin.buffer.read()
    try:
        artifact = compile_to_bytes(wasm)
    except WasmcliError as error:
        detail = error.message.removeprefix("Failed to compile module: ")
        sys.stdout.buffer.write(_FAILED + detail.encode("utf-8"))
        return
    sys.stdout.buffer.write(_OK + artifact)
