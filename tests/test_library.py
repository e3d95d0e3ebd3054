"""The library API, without the CLI: Executor, Tracer, RunResult."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from wasmcli.config import RunConfig
from wasmcli.errors import ErrorKind
from wasmcli.runtime.executor import Executor
from wasmcli.store.registry import Registry
from wasmcli.tracing.events import ExecutionTrace, TraceEventType
from wasmcli.tracing.tracer import Tracer

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")


def test_executor_runs_registered_plugin_with_in_memory_tracer() -> None:
    registry = Registry()
    registry.register((SAMPLES / "hello.wasm").read_bytes(), name="hello")
    tracer = Tracer(enabled=True, max_traces=2)
    executor = Executor(registry, tracer=tracer)
    results = [executor.execute("hello", f"n{n}", RunConfig(seed=1)) for n in range(3)]
    assert [r.output for r in results] == ["Hello, n0!", "Hello, n1!", "Hello, n2!"]
    assert all(r.success and r.exit_code == 0 for r in results)
    kept = tracer.get_traces()
    assert [t.trace_id for t in kept] == [results[2].trace_id, results[1].trace_id]
    assert tracer.get_trace(results[2].trace_id[:8]) == kept[0]
    assert tracer.get_traces(binary_id=results[0].binary_id, limit=1) == kept[:1]
    exported = json.loads(tracer.export_traces())
    assert [t["trace_id"] for t in exported] == [t.trace_id for t in kept]
    assert tracer.clear_traces() == 2 and tracer.get_traces() == []


def test_failures_come_back_as_results_not_exceptions() -> None:
    result = Executor(Registry(), tracer=Tracer()).execute("missing.wasm", "x", RunConfig())
    assert not result.success
    assert result.error is not None and result.error.kind is ErrorKind.LOAD
    assert result.exit_code == 3


def test_disabled_tracer_records_nothing() -> None:
    tracer = Tracer(enabled=False)
    result = Executor(Registry(), tracer=tracer).execute(HELLO, "x", RunConfig())
    assert result.output == "Hello, x!" and result.trace_id is None and result.trace is None
    assert tracer.get_traces() == []


def test_trace_round_trips_through_json() -> None:
    result = Executor(Registry(), tracer=Tracer()).execute(HELLO, "x", RunConfig())
    assert result.trace is not None
    again = ExecutionTrace.from_dict(json.loads(result.trace.to_json()))
    assert again == result.trace
    assert result.trace.duration() == result.trace.duration_us / 1e6
    assert [e.event_type for e in again.events][0] is TraceEventType.EXECUTION_START
    assert "hello" in str(result.trace)


def test_one_growth_is_shown_once_when_input_and_env_share_fresh_pages() -> None:
    # hello exports no alloc: wasmcli grows its memory once for the input and the env.
    result = Executor(Registry(), tracer=Tracer()).execute(HELLO, "world", RunConfig())
    assert result.trace is not None
    writes = {
        e.metadata["operation"]: e.metadata
        for e in result.trace.events
        if e.metadata.get("operation") in ("write_input", "write_env")
    }
    grown = writes["write_input"]
    assert grown["placement"] == "fresh_pages"
    assert grown["pages_after"] == grown["pages_before"] + 1
    assert writes["write_env"]["pages_before"] == writes["write_env"]["pages_after"]
    assert writes["write_env"]["pages_after"] == grown["pages_after"]


# What a library program reads off a failed run's error, without parsing its message.
TYPED_FAILURES = {
    "divide_by_zero": (ErrorKind.TRAP, "integer divide by zero", "process", "process"),
    "stack_overflow": (ErrorKind.TRAP, "call depth limit 1000 exceeded", "process", "recurse"),
    "bad_log_range": (
        ErrorKind.TRAP,
        "host.log range 1048576..1048592 is outside the plugin's memory (131072 bytes)",
        "process",
        None,
    ),
    "start_trap": (
        ErrorKind.ABI,
        "unreachable instruction executed (a plugin panic or abort)",
        "instantiate",
        "init",
    ),
    "infinite_loop": (ErrorKind.OUT_OF_FUEL, None, "process", "process"),
}


@pytest.mark.parametrize("sample", list(TYPED_FAILURES))
def test_a_failure_carries_its_facts_in_typed_fields(engine: str, sample: str) -> None:
    kind, trap, stage, first_frame = TYPED_FAILURES[sample]
    config = replace(RunConfig.from_env(), fuel=50_000)
    result = Executor(Registry(), tracer=Tracer()).execute(
        str(SAMPLES / "faulty" / f"{sample}.wasm"), "x", config
    )
    error = result.error
    assert error is not None
    assert (error.kind, error.trap, error.stage) == (kind, trap, stage)
    frames = [frame.split(" @ ")[0] for frame in error.backtrace]
    assert frames[:1] == ([] if first_frame is None else [first_frame])
    if kind is ErrorKind.OUT_OF_FUEL:
        assert result.fuel_consumed == 50_000
