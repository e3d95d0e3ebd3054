"""An event's metadata in a few words: the details after its message in a timeline.

One small function per event type (and per load step), each reading the keys that
docs/trace-events.md documents for it. A key that is missing or of the wrong type is
left out rather than shown wrong, so a trace from an older wasmcli still renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wasmcli.render.formatting import (
    MISSING,
    format_bytes,
    format_duration,
    format_fuel,
    format_return_code,
    plural,
)
from wasmcli.safe_text import one_line
from wasmcli.tracing.events import TraceEvent, TraceEventType

T = TraceEventType
Meta = Mapping[str, Any]

SOURCES = {"registry": "from the registry", "path": "from a file"}


def event_detail_parts(event: TraceEvent) -> list[str]:
    """The metadata that matters for the event's type, as short fields."""
    describe = _DETAILS.get(event.event_type)
    return describe(event.metadata, one_line(event.message)) if describe else []


def event_details(event: TraceEvent) -> str:
    """The metadata that matters for the event's type, in a few words."""
    return " · ".join(event_detail_parts(event))


# Typed reads ----------------------------------------------------------------------------


def int_value(meta: Meta, key: str) -> int | None:
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_value(meta: Meta, key: str) -> str | None:
    value = meta.get(key)
    return one_line(value) if isinstance(value, str) and value else None


def _number(meta: Meta, key: str) -> float | None:
    value = meta.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def keep(parts: Iterable[str | None], message: str = "") -> list[str]:
    """The parts that say something the message does not already say."""
    lowered = message.lower()
    return [p for p in parts if p and p.lower() not in lowered]


def pages(count: int | None) -> str:
    return MISSING if count is None else plural(count, "page")


def limit_duration(ms: int) -> str:
    """'5 s', '1,500 ms': a limit as the user typed it, more or less."""
    return f"{ms // 1000:,} s" if ms >= 1000 and ms % 1000 == 0 else f"{ms:,} ms"


# One function per event type ------------------------------------------------------------


def _execution_start(meta: Meta, message: str) -> list[str]:
    timeout, memory = int_value(meta, "timeout_ms"), int_value(meta, "memory_limit_mb")
    fuel, cap = int_value(meta, "fuel_limit"), int_value(meta, "max_output")
    input_len, env_len = int_value(meta, "input_length"), int_value(meta, "env_length")
    seed = int_value(meta, "random_seed")
    return keep(
        [
            f"input {format_bytes(input_len)}" if input_len is not None else None,
            f"env {format_bytes(env_len)}" if env_len is not None else None,
            f"timeout {limit_duration(timeout)}" if timeout is not None else None,
            f"fuel {format_fuel(fuel)}" if fuel is not None else None,
            f"memory {memory:,} MiB" if memory is not None else None,
            f"output ≤ {format_bytes(cap)}" if cap is not None else None,
            f"seed {seed}" if seed is not None else None,
        ]
    )


def _load_start(meta: Meta, message: str) -> list[str]:
    # Traces of older versions documented a `source` here.
    source = str_value(meta, "source")
    return keep([str_value(meta, "reference"), SOURCES.get(source or "", source)], message)


def _load_complete(meta: Meta, message: str) -> list[str]:
    step = str_value(meta, "step")
    size = int_value(meta, "size_bytes")
    size_text = format_bytes(size) if size is not None else None
    if step == "resolve":
        source = str_value(meta, "source")
        return keep([size_text, SOURCES.get(source or "", source)], message)
    if step in ("engine_import", "engine_start"):
        version = str_value(meta, "engine_version")
        engine = str_value(meta, "engine")
        return keep([f"{engine} {version}" if engine and version else engine], message)
    if step == "module":
        return keep([size_text], message)
    # A trace recorded before load steps existed: one LoadComplete for everything.
    compile_ms = _number(meta, "compile_ms")
    if meta.get("from_cache") is True:
        how: str | None = "from cache"
    elif compile_ms is not None:
        how = f"compiled in {format_duration(round(compile_ms * 1000))}"
    else:
        how = None
    return keep([size_text, how], message)


def _error(meta: Meta, message: str) -> list[str]:
    error_kind, stage = str_value(meta, "error_kind"), str_value(meta, "stage")
    if error_kind and stage and stage != error_kind:
        where: str | None = f"{error_kind} during {stage}"
    else:
        where = error_kind or stage
    return keep([where, str_value(meta, "error")], message)


def _fuel_checkpoint(meta: Meta, message: str) -> list[str]:
    consumed, remaining = int_value(meta, "fuel_consumed"), int_value(meta, "fuel_remaining")
    profile = meta.get("profile")
    if isinstance(profile, dict):  # `run --profile`'s profile (`traces profile` shows it)
        functions = profile.get("functions")
        return keep(
            [
                f"{len(functions):,} functions" if isinstance(functions, list) else None,
                f"{format_fuel(int_value(profile, 'fuel_attributed'))} fuel attributed",
            ]
        )
    if consumed is None:
        return [f"limit {format_fuel(int_value(meta, 'fuel_limit'))}"]
    return keep(
        [
            f"used {format_fuel(consumed)}",
            f"left {format_fuel(remaining)}" if remaining is not None else None,
        ]
    )


def _host_function_call(meta: Meta, message: str) -> list[str]:
    return keep([str_value(meta, "function")], message)


def _function_call(meta: Meta, message: str) -> list[str]:
    function = str_value(meta, "function")
    if function == "process":
        args = [int_value(meta, k) for k in ("input_ptr", "input_len", "env_ptr", "env_len")]
        return ["process(" + ", ".join(MISSING if a is None else str(a) for a in args) + ")"]
    count = int_value(meta, "memory_pages")
    return keep([function, pages(count) if count is not None else None], message)


def _memory_op(meta: Meta, message: str) -> list[str]:
    if str_value(meta, "operation") == "size_check":
        maximum = int_value(meta, "memory_max_pages")
        limit = int_value(meta, "memory_limit_pages")
        return keep(
            [
                pages(int_value(meta, "memory_pages")),
                f"limit {MISSING if limit is None else f'{limit:,}'}",
                f"max {maximum:,}" if maximum is not None else "no max",
            ]
        )
    written, ptr = int_value(meta, "bytes"), int_value(meta, "ptr")
    before, after = int_value(meta, "pages_before"), int_value(meta, "pages_after")
    if before is None or after is None:
        page_change = None
    else:
        page_change = f"pages {before}→{after}" if before != after else f"pages {after}"
    return keep(
        [
            None if message else str_value(meta, "operation"),
            format_bytes(written) + (f" at {ptr}" if ptr is not None else "")
            if written is not None
            else None,
            str_value(meta, "placement"),
            page_change,
        ]
    )


def _plugin_log(meta: Meta, message: str) -> list[str]:
    if "suppressed" in meta:
        return []  # the tracer's note says it all; see `event_message`
    line = int_value(meta, "line")
    return [f"line {line:,}"] if line is not None else []


def _execution_complete(meta: Meta, message: str) -> list[str]:
    code = int_value(meta, "return_code")
    out_bytes, out_lines = int_value(meta, "output_bytes"), int_value(meta, "output_lines")
    output = None
    if out_bytes is not None:
        output = f"output {format_bytes(out_bytes)}"
        if out_lines is not None:
            output += f" in {plural(out_lines, 'line')}"
    return keep([format_return_code(code) if code is not None else None, output])


_DETAILS: dict[TraceEventType, Callable[[Meta, str], list[str]]] = {
    T.EXECUTION_START: _execution_start,
    T.LOAD_START: _load_start,
    T.LOAD_COMPLETE: _load_complete,
    T.LOAD_ERROR: _error,
    T.EXECUTION_ERROR: _error,
    T.FUEL_CHECKPOINT: _fuel_checkpoint,
    T.HOST_FUNCTION_CALL: _host_function_call,
    T.FUNCTION_CALL: _function_call,
    T.MEMORY_OP: _memory_op,
    T.PLUGIN_LOG: _plugin_log,
    T.EXECUTION_COMPLETE: _execution_complete,
}


def event_message(event: TraceEvent) -> str:
    """The event's message on one line; the note of left-out log lines from its count,
    so it reads the same whatever wording recorded it."""
    suppressed = int_value(event.metadata, "suppressed")
    if event.event_type is T.PLUGIN_LOG and suppressed is not None:
        return f"{plural(suppressed, 'more log line')} left out of the trace"
    return one_line(event.message)


__all__ = [
    "event_detail_parts",
    "event_details",
    "event_message",
    "int_value",
    "str_value",
]
