"""The compiled-module cache and the child-process runner, on every engine."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
from functools import partial
from pathlib import Path

from wasmcli.engines.base import EngineLimits
from wasmcli.engines.isolation import run_isolated
from wasmcli.engines.wasmtime_engine import WasmtimeEngine
from wasmcli.errors import WasmcliError
from wasmcli.runtime.env import encode_env
from wasmcli.runtime.executor import RunSink
from wasmcli.runtime.session import SessionRequest, run_session
from wasmcli.store.blobs import sha256_hex
from wasmcli.tracing.recorder import TraceRecorder

from .conftest import SAMPLES, plugin_wat

HELLO = str(SAMPLES / "hello.wasm")


def load_event(cli) -> dict:
    events = cli("traces", "show", "--last", "--json").json()["events"]
    return next(e for e in events if e["metadata"].get("step") == "module")["metadata"]


def test_second_run_loads_from_cache_and_damage_is_recompiled(cli, wasmcli_home: Path) -> None:
    cli("run", HELLO, "--input", "a")
    assert load_event(cli)["from_cache"] is False
    assert cli("run", HELLO, "--input", "b").stdout == "Hello, b!\n"
    assert load_event(cli)["from_cache"] is True
    artifacts = list((wasmcli_home / "cache").rglob("*.bin"))
    assert len(artifacts) == 1
    artifacts[0].write_bytes(artifacts[0].read_bytes()[: len(artifacts[0].read_bytes()) // 2])
    assert cli("run", HELLO, "--input", "c").stdout == "Hello, c!\n"
    assert load_event(cli)["from_cache"] is False  # damaged: recompiled, never loaded
    assert cli("run", HELLO, "--input", "d").exit_code == 0
    assert load_event(cli)["from_cache"] is True


# Grows its one memory a page at a time until refused; returns the pages it holds.
GROW_UNTIL_REFUSED = plugin_wat(
    """
    (block $done (loop $more
      (br_if $done (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (br $more)))
    (memory.size)"""
)


def test_a_cached_module_holds_each_runs_own_memory_cap(cli, wat_file) -> None:
    """The cap is compiled into the module, so a module compiled under one cap must never
    be loaded for a run under another: the key of its artifact names the cap."""
    path = str(wat_file(GROW_UNTIL_REFUSED))

    def pages_held(cap_mb: str) -> tuple[int, bool]:
        data = cli("run", path, "--memory-limit-mb", cap_mb, "--json").json()
        return data["return_code"], load_event(cli)["from_cache"]

    assert pages_held("8") == (128, False)  # 8 MB: 128 pages of 64 KiB
    assert pages_held("8") == (128, True)
    assert pages_held("4") == (64, False)  # its own artifact, compiled for 4 MB
    assert pages_held("4") == (64, True)
    assert pages_held("8") == (128, True)


def test_home_option_keeps_everything_in_that_folder(
    cli, tmp_path: Path, wasmcli_home: Path
) -> None:
    other = tmp_path / "elsewhere"
    assert cli("--home", str(other), "register", HELLO, "--name", "hello").exit_code == 0
    assert (other / "wasmcli.db").exists() and list((other / "binaries").glob("*.wasm"))
    assert cli("run", "hello").exit_code == 3  # not in the default home
    assert cli("--home", str(other), "run", "hello", "--input", "x").stdout == "Hello, x!\n"


class IsolatedWasmtime(WasmtimeEngine):
    """wasmtime run through the child-process runner, to test the runner on any Python.

    wasmtime is not fork-safe once initialised (its compiler threads do not survive a
    fork), so these checks run in a fresh interpreter that forks before touching it;
    that is also how the CLI uses the runner (one run per process, wasmer only).
    """

    needs_isolation = True


class CrashingEngine(IsolatedWasmtime):
    def instantiate(self, module, limits, host_log):  # type: ignore[no-untyped-def]
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)  # no faulthandler: die as a crash does
        os.kill(os.getpid(), signal.SIGSEGV)  # an engine crash inside the child


def request_for(wat_wasm: bytes, timeout_ms: int = 5000) -> SessionRequest:
    return SessionRequest(
        wasm=wat_wasm,
        sha256=sha256_hex(wat_wasm),
        input=b"hi",
        env=encode_env({"timestamp": 1, "random_seed": 2}),
        limits=EngineLimits(fuel=10**15, timeout_ms=timeout_ms, memory_limit_bytes=64 << 20),
        max_output=1 << 20,
        cache_home=None,
    )


def run_in_child_process(engine_name: str, wasm: bytes, timeout_ms: int) -> dict:
    """Runs in a fresh interpreter: the outcome, the output and the event types."""
    engine = {"isolated": IsolatedWasmtime, "crashing": CrashingEngine}[engine_name]()
    sink = RunSink(TraceRecorder())
    result: dict = {"lines": sink.lines}
    try:
        request = request_for(wasm, timeout_ms)
        outcome = run_isolated(partial(run_session, engine, request), sink, timeout_ms)
        result["return_code"] = outcome.return_code
    except WasmcliError as error:
        result["error"] = (error.kind.value, error.message)
    result["events"] = [(e.event_type.value, e.message) for e in sink.recorder.events]
    return result


def stop_from_another_thread(wasm: bytes, timeout_ms: int) -> dict:
    """Runs in a fresh interpreter: SIGTERM comes while the parent waits for its child,
    handled by another thread's C handler, as when it lands just before the parent's
    wait begins (the main thread's blocking wait is not interrupted: Python runs the
    handler only at its next check)."""
    import threading
    import time

    from wasmcli.errors import Terminated, raise_terminated

    def send_later() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)  # only this thread takes it

    signal.signal(signal.SIGTERM, raise_terminated)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
    threading.Thread(target=send_later, daemon=True).start()
    sink = RunSink(TraceRecorder())
    started = time.monotonic()
    try:
        request = request_for(wasm, timeout_ms)
        run_isolated(partial(run_session, IsolatedWasmtime(), request), sink, timeout_ms)
        return {"stopped": None}
    except Terminated as stop:
        return {"stopped": stop.signum, "after_s": time.monotonic() - started}
    except WasmcliError as error:
        return {"stopped": error.kind.value, "after_s": time.monotonic() - started}


def in_fresh_interpreter(engine_name: str, source: str, timeout_ms: int = 5000) -> dict:
    from wasmcli.wasm.wat import wat_to_wasm

    wasm = wat_to_wasm(source)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(run_in_child_process, engine_name, wasm, timeout_ms).result(60)


def test_isolated_run_relays_events_and_output() -> None:
    source = plugin_wat("(call $log (local.get $in) (local.get $in_len)) (i32.const 0)")
    result = in_fresh_interpreter("isolated", source)
    assert result["return_code"] == 0 and result["lines"] == ["hi"]
    types = [event_type for event_type, _ in result["events"]]
    assert types[0] == "LoadComplete" and "PluginLog" in types


def test_isolated_run_is_killed_at_the_deadline() -> None:
    result = in_fresh_interpreter("isolated", plugin_wat("(loop $l (br $l)) (i32.const 0)"), 300)
    assert result["error"] == ("timeout", "Execution timeout")
    assert ("FunctionCall", "Calling process") in result["events"]


def test_a_signal_that_lands_before_the_wait_begins_still_stops_the_run() -> None:
    from wasmcli.wasm.wat import wat_to_wasm

    wasm = wat_to_wasm(plugin_wat("(loop $l (br $l)) (i32.const 0)"))
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        result = pool.submit(stop_from_another_thread, wasm, 30_000).result(60)
    # Stopped by the signal, long before the 30 s deadline (a blocking wait would have
    # reported a timeout at 30 s).
    assert result["stopped"] == signal.SIGTERM
    assert result["after_s"] < 15


def test_a_crashed_child_is_an_internal_error_with_the_events_so_far() -> None:
    result = in_fresh_interpreter("crashing", plugin_wat("i32.const 0"))
    kind, message = result["error"]
    assert kind == "internal" and "signal SIGSEGV" in message
    assert result["events"][-1][0] == "HostFunctionCall"
