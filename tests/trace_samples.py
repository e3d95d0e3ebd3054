"""Realistic synthetic traces with fixed ids and times, for renderer and export tests.

Each follows the event flow of docs/design.md section 7 with the metadata keys of
docs/trace-events.md, so tests read like real runs of the sample plugins.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from rich.console import Console, RenderableType

from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType

STARTED_AT = datetime(2026, 11, 26, 22, 40, 0, 123456, tzinfo=timezone.utc)
HELLO_ID = "4f1c2a9e-7b3d-4e58-9a60-1c2d3e4f5a6b"
DIVIDER_ID = "9d8e7f60-5a4b-4c3d-8e2f-1a0b9c8d7e6f"
SPINNER_ID = "b7c6d5e4-f3a2-4b1c-9d0e-8f7a6b5c4d3e"
FUEL_LIMIT = 5_000_000_000


TRACE_IDS = {
    1: "3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607",
    2: "8c41d07e-2b9a-4c35-9e18-6f0a2d7b4c91",
    3: "d2e9a6f3-7c10-4b82-a5d4-03e8f1b96c27",
    4: "5b7f1e08-c4a3-4d9e-b062-9a1c7e3f5d84",
    5: "a06c3d92-18f5-4e7b-8c3a-d5b2e9f04a61",
    6: "e47b2c15-9d08-4a6f-b3e1-72c5a8d06f39",
    7: "19f8e4a7-3b62-4c0d-9f57-b8e1d2a64c03",
    8: "7ad3c6e1-04b9-4f28-a6d5-c1e3b97f2a80",
}


def _trace_id(n: int) -> str:
    return TRACE_IDS[n]


def _ev(
    ts: int, kind: TraceEventType, message: str, binary_id: str | None, **meta: Any
) -> TraceEvent:
    return TraceEvent(
        timestamp=ts, event_type=kind, binary_id=binary_id, message=message, metadata=meta
    )


def _setup(
    binary_id: str,
    name: str,
    *,
    input_len: int,
    fuel_limit: int = FUEL_LIMIT,
    reference: str | None = None,
) -> list[TraceEvent]:
    """ExecutionStart up to the `process` call, as a registered plugin would record it."""
    b = binary_id
    return [
        _ev(
            0,
            T.EXECUTION_START,
            "Starting execution",
            b,
            input_length=input_len,
            env_length=62,
            timeout_ms=5000,
            memory_limit_mb=64,
            fuel_limit=fuel_limit,
            max_output=1_048_576,
            engine="wasmtime",
        ),
        _ev(
            12,
            T.LOAD_START,
            f"Loading binary {reference or name}",
            b,
            reference=reference or name,
            source="registry",
        ),
        _ev(
            412,
            T.LOAD_COMPLETE,
            "Module loaded",
            b,
            size_bytes=1187,
            sha256="a3f1" + "0" * 60,
            from_cache=True,
            compile_ms=0.0,
        ),
        _ev(430, T.FUEL_CHECKPOINT, "Fuel limit set", b, fuel_limit=fuel_limit),
        _ev(436, T.HOST_FUNCTION_CALL, "Registered host.log", b, function="host.log"),
        _ev(581, T.FUNCTION_CALL, "Module instantiated", b, function="instantiate", memory_pages=1),
        _ev(
            590,
            T.MEMORY_OP,
            "Memory size checked",
            b,
            operation="size_check",
            memory_pages=1,
            memory_max_pages=None,
            memory_limit_pages=1024,
        ),
        _ev(
            602,
            T.MEMORY_OP,
            "Input written",
            b,
            operation="write_input",
            ptr=65536,
            bytes=input_len,
            placement="fresh_pages",
            pages_before=1,
            pages_after=2,
        ),
        _ev(
            611,
            T.MEMORY_OP,
            "Env written",
            b,
            operation="write_env",
            ptr=65536 + input_len,
            bytes=62,
            placement="fresh_pages",
            pages_before=2,
            pages_after=2,
        ),
        _ev(
            620,
            T.FUNCTION_CALL,
            "Calling process",
            b,
            function="process",
            input_ptr=65536,
            input_len=input_len,
            env_ptr=65536 + input_len,
            env_len=62,
        ),
    ]


def _trace(
    n: int,
    binary_id: str | None,
    name: str | None,
    events: list[TraceEvent],
    *,
    duration_us: int,
    success: bool,
    return_code: int | None = None,
    error_kind: str | None = None,
    error_message: str | None = None,
    fuel_limit: int | None = FUEL_LIMIT,
    fuel_consumed: int | None = None,
    minutes_later: int = 0,
) -> ExecutionTrace:
    return ExecutionTrace(
        trace_id=_trace_id(n),
        binary_id=binary_id,
        binary_name=name,
        engine="wasmtime",
        started_at=STARTED_AT + timedelta(minutes=minutes_later),
        duration_us=duration_us,
        success=success,
        error_kind=error_kind,
        error_message=error_message,
        return_code=return_code,
        fuel_limit=fuel_limit,
        fuel_consumed=fuel_consumed,
        events=tuple(events),
    )


def success_trace() -> ExecutionTrace:
    """hello greets its input: three log lines, SUCCESS."""
    b = HELLO_ID
    events = _setup(b, "hello", input_len=5) + [
        _ev(655, T.PLUGIN_LOG, "Hello, world!", b, line=1, bytes=13),
        _ev(702, T.PLUGIN_LOG, "input had 5 bytes", b, line=2, bytes=17),
        _ev(741, T.PLUGIN_LOG, "done", b, line=3, bytes=4),
        _ev(
            790,
            T.FUEL_CHECKPOINT,
            "Fuel consumed",
            b,
            fuel_limit=FUEL_LIMIT,
            fuel_consumed=1234,
            fuel_remaining=FUEL_LIMIT - 1234,
        ),
        _ev(
            801,
            T.EXECUTION_COMPLETE,
            "Execution complete",
            b,
            return_code=0,
            return_code_name="SUCCESS",
            output_bytes=36,
            output_lines=3,
        ),
    ]
    return _trace(
        1, b, "hello", events, duration_us=840, success=True, return_code=0, fuel_consumed=1234
    )


def suppressed_logs_trace() -> ExecutionTrace:
    """A chatty plugin: 10 log lines with events, then 200 more left out of the trace."""
    b = HELLO_ID
    logs = [
        _ev(700 + 40 * i, T.PLUGIN_LOG, f"tick {i + 1}", b, line=i + 1, bytes=len(f"tick {i + 1}"))
        for i in range(10)
    ]
    events = (
        _setup(b, "chatty", input_len=3)
        + logs
        + [
            _ev(9_480, T.PLUGIN_LOG, "200 log lines not recorded", b, suppressed=200),
            _ev(
                9_510,
                T.FUEL_CHECKPOINT,
                "Fuel consumed",
                b,
                fuel_limit=FUEL_LIMIT,
                fuel_consumed=48_211,
                fuel_remaining=FUEL_LIMIT - 48_211,
            ),
            _ev(
                9_522,
                T.EXECUTION_COMPLETE,
                "Execution complete",
                b,
                return_code=0,
                return_code_name="SUCCESS",
                output_bytes=1_893,
                output_lines=210,
            ),
        ]
    )
    return _trace(
        2,
        b,
        "chatty",
        events,
        duration_us=9_560,
        success=True,
        return_code=0,
        fuel_consumed=48_211,
        minutes_later=1,
    )


BACKTRACE = [
    "0: 0x4a - divider!divide",
    "1: 0x91 - divider!compute",
    "2: 0xc3 - divider!process",
]


def trap_trace() -> ExecutionTrace:
    """divider divides by zero inside `process`: a trap with a three-frame backtrace."""
    b = DIVIDER_ID
    message = "wasm trap: integer divide by zero"
    events = _setup(b, "divider", input_len=1) + [
        _ev(652, T.PLUGIN_LOG, "dividing 10 by 0", b, line=1, bytes=16),
        _ev(
            907,
            T.EXECUTION_ERROR,
            message,
            b,
            error_kind="trap",
            error=message,
            backtrace=BACKTRACE,
            stage="process",
            memory_pages=2,
        ),
    ]
    return _trace(
        3,
        b,
        "divider",
        events,
        duration_us=913,
        success=False,
        error_kind="trap",
        error_message=message,
        fuel_consumed=31,
        minutes_later=2,
    )


def timeout_trace() -> ExecutionTrace:
    """spinner loops forever and is stopped at the 5 s wall-clock limit."""
    b = SPINNER_ID
    events = _setup(b, "spinner", input_len=0) + [
        _ev(1_204, T.PLUGIN_LOG, "spinning", b, line=1, bytes=8),
        _ev(
            5_000_913,
            T.EXECUTION_ERROR,
            "Execution timeout",
            b,
            error_kind="timeout",
            error="Execution timeout",
            backtrace=[],
            stage="process",
        ),
    ]
    return _trace(
        4,
        b,
        "spinner",
        events,
        duration_us=5_001_020,
        success=False,
        error_kind="timeout",
        error_message="Execution timeout",
        fuel_consumed=912_664_117,
        minutes_later=3,
    )


def load_error_trace() -> ExecutionTrace:
    """A reference that names no registered binary: nothing is loaded."""
    message = "Failed to get binary: Binary not found: abc-123"
    events = [
        _ev(
            0,
            T.EXECUTION_START,
            "Starting execution",
            None,
            input_length=5,
            env_length=62,
            timeout_ms=5000,
            memory_limit_mb=64,
            fuel_limit=FUEL_LIMIT,
            max_output=1_048_576,
            engine="wasmtime",
        ),
        _ev(
            9, T.LOAD_START, "Loading binary abc-123", None, reference="abc-123", source="registry"
        ),
        _ev(157, T.LOAD_ERROR, message, None, error_kind="load", error=message),
        _ev(
            163,
            T.EXECUTION_ERROR,
            message,
            None,
            error_kind="load",
            error=message,
            backtrace=[],
            stage="load",
        ),
    ]
    return _trace(
        5,
        None,
        None,
        events,
        duration_us=170,
        success=False,
        error_kind="load",
        error_message=message,
        fuel_consumed=None,
        minutes_later=4,
    )


def out_of_fuel_trace() -> ExecutionTrace:
    """spinner under --fuel 100000 runs out inside `process`."""
    b = SPINNER_ID
    limit = 100_000
    message = "Out of fuel: the limit of 100,000 was reached"
    events = _setup(b, "spinner", input_len=0, fuel_limit=limit) + [
        _ev(
            2_377,
            T.EXECUTION_ERROR,
            message,
            b,
            error_kind="out_of_fuel",
            error=message,
            backtrace=["0: 0x2f - spinner!spin", "1: 0x58 - spinner!process"],
            stage="process",
            memory_pages=2,
        ),
    ]
    return _trace(
        6,
        b,
        "spinner",
        events,
        duration_us=2_390,
        success=False,
        error_kind="out_of_fuel",
        error_message=message,
        fuel_limit=limit,
        fuel_consumed=limit,
        minutes_later=5,
    )


def plugin_error_trace() -> ExecutionTrace:
    """A parser that rejects its input: the run completes with ERROR_PARSE_ERROR."""
    b = HELLO_ID
    events = _setup(b, "parser", input_len=7) + [
        _ev(688, T.PLUGIN_LOG, "unexpected '}' at 1:7", b, line=1, bytes=21),
        _ev(
            731,
            T.FUEL_CHECKPOINT,
            "Fuel consumed",
            b,
            fuel_limit=FUEL_LIMIT,
            fuel_consumed=402,
            fuel_remaining=FUEL_LIMIT - 402,
        ),
        _ev(
            744,
            T.EXECUTION_COMPLETE,
            "Execution complete",
            b,
            return_code=-5,
            return_code_name="ERROR_PARSE_ERROR",
            output_bytes=21,
            output_lines=1,
        ),
    ]
    return _trace(
        7,
        b,
        "parser",
        events,
        duration_us=760,
        success=False,
        return_code=-5,
        error_kind="plugin_error",
        error_message="Plugin returned ERROR_PARSE_ERROR (-5)",
        fuel_consumed=402,
        minutes_later=6,
    )


MARKUP_LINE = "[bold]not bold[/bold] and [red]not red[/] \\[escaped]"
LONG_LINE = "long line " + "x" * 400 + " END"
CONTROL_LINE = "\x1b[31mred?\x1b[0m\tand a\nnewline"


def tricky_logs_trace() -> ExecutionTrace:
    """Log lines a renderer must show literally: markup, a very long line, control codes."""
    b = HELLO_ID
    events = _setup(b, "hello", input_len=5) + [
        _ev(655, T.PLUGIN_LOG, MARKUP_LINE, b, line=1, bytes=len(MARKUP_LINE)),
        _ev(700, T.PLUGIN_LOG, LONG_LINE, b, line=2, bytes=len(LONG_LINE)),
        _ev(731, T.PLUGIN_LOG, CONTROL_LINE, b, line=3, bytes=len(CONTROL_LINE)),
        _ev(
            790,
            T.FUEL_CHECKPOINT,
            "Fuel consumed",
            b,
            fuel_limit=FUEL_LIMIT,
            fuel_consumed=77,
            fuel_remaining=FUEL_LIMIT - 77,
        ),
        _ev(
            801,
            T.EXECUTION_COMPLETE,
            "Execution complete",
            b,
            return_code=0,
            return_code_name="SUCCESS",
            output_bytes=460,
            output_lines=3,
        ),
    ]
    return _trace(
        8,
        b,
        "[red]hello[/red]",
        events,
        duration_us=840,
        success=True,
        return_code=0,
        fuel_consumed=77,
        minutes_later=7,
    )


def all_samples() -> list[ExecutionTrace]:
    """Every sample, newest first (as `traces list` shows them)."""
    samples = [
        success_trace(),
        suppressed_logs_trace(),
        trap_trace(),
        timeout_trace(),
        load_error_trace(),
        out_of_fuel_trace(),
        plugin_error_trace(),
        tricky_logs_trace(),
    ]
    return sorted(samples, key=lambda t: t.started_at, reverse=True)


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
