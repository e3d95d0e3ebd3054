"""Traces of real runs, for the renderer, table and export tests.

Each sample is a real `wasmcli run` of a sample plugin (or of a test plugin in
tests/plugins/), recorded by `python -m tests.record_trace_samples` into
tests/fixtures/traces/NAME.json. Only what changes from one run to the next is fixed
afterwards: the trace id (TRACE_IDS) and the start time (a minute apart, in the order of
SAMPLES). Messages, metadata, backtraces and timings are what wasmcli recorded.

`test_trace_samples.py` runs every sample again and checks that what wasmcli records
now has the same shape (event flow, messages, metadata keys): when the recorder
changes, that test fails until the samples are recorded again.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console, RenderableType

from wasmcli.tracing.events import ExecutionTrace

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
STARTED_AT = datetime(2026, 11, 26, 22, 40, 0, 123456, tzinfo=timezone.utc)
# A fixed env, so the recorded ExecutionStart metadata is the same on every recording.
SEED = "42"
TIMESTAMP_NS = "1764196800000000000"


@dataclass(frozen=True)
class Sample:
    name: str
    args: tuple[str, ...]  # after `wasmcli run`, run from the repository's root
    trace_id: str
    exit_code: int


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "hello",
        ("sample_plugins/hello.wasm", "--input", "world"),
        "3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607",
        0,
    ),
    Sample("chatty", ("tests/plugins/chatty.wat",), "8c41d07e-2b9a-4c35-9e18-6f0a2d7b4c91", 0),
    Sample(
        "divide_by_zero",
        ("sample_plugins/faulty/divide_by_zero.wasm",),
        "d2e9a6f3-7c10-4b82-a5d4-03e8f1b96c27",
        8,
    ),
    Sample(
        "timeout",
        (
            "sample_plugins/faulty/infinite_loop.wasm",
            "--timeout-ms",
            "1000",
            "--fuel",
            "10000000000000",
        ),
        "5b7f1e08-c4a3-4d9e-b062-9a1c7e3f5d84",
        5,
    ),
    Sample("not_found", ("abc-123",), "a06c3d92-18f5-4e7b-8c3a-d5b2e9f04a61", 3),
    Sample(
        "out_of_fuel",
        ("sample_plugins/faulty/infinite_loop.wasm", "--fuel", "100000"),
        "e47b2c15-9d08-4a6f-b3e1-72c5a8d06f39",
        6,
    ),
    Sample(
        "parse_error",
        ("sample_plugins/json_fields.wasm", "--input", '{"user":"ada",}'),
        "19f8e4a7-3b62-4c0d-9f57-b8e1d2a64c03",
        1,
    ),
    Sample(
        "tricky_logs", ("tests/plugins/tricky_logs.wat",), "7ad3c6e1-04b9-4f28-a6d5-c1e3b97f2a80", 0
    ),
    Sample(
        "panic",
        ("sample_plugins/faulty/panic.wasm", "--input", "x"),
        "c0ffee11-2233-4455-8899-aabbccddeeff",
        8,
    ),
)
BY_NAME = {sample.name: sample for sample in SAMPLES}


def run_args(sample: Sample, engine: str = "wasmtime") -> list[str]:
    """The full `wasmcli` arguments of a sample's run (recorded on wasmtime)."""
    return [
        "run",
        *sample.args,
        "--engine",
        engine,
        "--seed",
        SEED,
        "--timestamp",
        TIMESTAMP_NS,
    ]


def normalize(sample: Sample, recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded trace with its id and start time fixed (nothing else changes)."""
    index = SAMPLES.index(sample)
    started = STARTED_AT + timedelta(minutes=index)
    return {
        **recorded,
        "trace_id": sample.trace_id,
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


@cache
def _load(name: str) -> ExecutionTrace:
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return ExecutionTrace.from_dict(data)


def sample_trace(name: str) -> ExecutionTrace:
    return _load(name)


def success_trace() -> ExecutionTrace:
    """hello greets "world": SUCCESS."""
    return _load("hello")


def suppressed_logs_trace() -> ExecutionTrace:
    """chatty logs "tick" 5,000 times: 1,000 log events and a note for 4,000 more."""
    return _load("chatty")


def trap_trace() -> ExecutionTrace:
    """divide_by_zero traps inside `process`, with a backtrace."""
    return _load("divide_by_zero")


def timeout_trace() -> ExecutionTrace:
    """infinite_loop stopped at a 1 s wall-clock limit."""
    return _load("timeout")


def load_error_trace() -> ExecutionTrace:
    """`run abc-123`: no such binary, nothing loaded."""
    return _load("not_found")


def out_of_fuel_trace() -> ExecutionTrace:
    """infinite_loop under --fuel 100000."""
    return _load("out_of_fuel")


def plugin_error_trace() -> ExecutionTrace:
    """json_fields rejects '{"user":"ada",}': ERROR_PARSE_ERROR, with a log line saying why."""
    return _load("parse_error")


def tricky_logs_trace() -> ExecutionTrace:
    """Log lines a renderer must show literally: markup, a long line, control codes."""
    return _load("tricky_logs")


def panic_trace() -> ExecutionTrace:
    """A Rust panic: the SDK logs where, then traps; a demangled backtrace."""
    return _load("panic")


def all_samples() -> list[ExecutionTrace]:
    """Every sample, newest first (as `traces list` shows them)."""
    samples = [_load(sample.name) for sample in SAMPLES]
    return sorted(samples, key=lambda t: t.started_at, reverse=True)


# The exact text of the tricky log lines (tests/plugins/tricky_logs.wat).
MARKUP_LINE = "[bold]not bold[/bold] and [red]not red[/] \\[escaped]"
LONG_LINE = "long line " + "x" * 400 + " END"
CONTROL_LINE = "\x1b[31mred?\x1b[0m\tand a\nnewline"
BIDI_LINE = "\u202eevil\u202c bidi and \x9b C1"


# US Eastern without DST rules, as a POSIX TZ string (needs no tz database): local times
# in the tests are UTC-5, so they show the conversion really happens.
TEST_TZ = "EST+5"


@contextmanager
def local_timezone(tz: str = TEST_TZ) -> Iterator[None]:
    """Run with the process's local time zone set to `tz` (POSIX only)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


@pytest.fixture
def eastern_time() -> Iterator[None]:
    """Fix the local time zone, so rendered local times are the same on every machine.

    Test modules that render times use it with `pytestmark = pytest.mark.usefixtures(...)`
    after importing it."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to fix the local time zone")
    with local_timezone():
        yield


def render(renderable: RenderableType, width: int = 100) -> str:
    """What a colorless terminal of `width` columns shows, trailing spaces removed."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    output = buffer.getvalue()
    return "\n".join(line.rstrip() for line in output.splitlines())
