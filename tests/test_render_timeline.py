"""The timeline renderable: header, rows, bar, error panel, widths and untrusted text."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from rich.console import Console

from tests.trace_samples import (  # noqa: F401 - eastern_time is a fixture
    BACKTRACE,
    CONTROL_LINE,
    MARKUP_LINE,
    all_samples,
    eastern_time,
    load_error_trace,
    local_timezone,
    out_of_fuel_trace,
    plugin_error_trace,
    render,
    success_trace,
    suppressed_logs_trace,
    timeout_trace,
    trap_trace,
    tricky_logs_trace,
)
from wasmcli.render.timeline import TraceTimeline, event_details, print_trace
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

pytestmark = pytest.mark.usefixtures("eastern_time")


def timeline(trace: ExecutionTrace, width: int = 100) -> list[str]:
    return render(TraceTimeline(trace), width).splitlines()


def row(lines: list[str], event_type: str, containing: str = "") -> str:
    """The first row of that event type (and text)."""
    for line in lines:
        fields = line.split()
        if event_type in fields and containing in line:
            return line
    raise AssertionError(f"no {event_type} row with {containing!r} in:\n" + "\n".join(lines))


# Header ------------------------------------------------------------------------------


def test_success_header_shows_what_ran_and_how_it_ended() -> None:
    lines = timeline(success_trace())
    assert lines[0].startswith("trace 3f2a9c1b · hello  ─────")
    assert len(lines[0]) == 100
    assert lines[1:7] == [
        "binary   hello (4f1c2a9e)                      status    ok",
        "trace    3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607  return    0 SUCCESS",
        "engine   wasmtime                              duration  0.84 ms",
        "started  2026-11-26 17:40:00.123 EST           fuel      1,234 of 5,000,000,000 (0.00%)",
        "                                               events    15",
        "",
    ]


def test_failed_header_names_the_kind_and_has_no_return_code() -> None:
    text = render(TraceTimeline(trap_trace()))
    assert "status    failed: trap" in text
    assert "return    —" in text
    assert "fuel      31 of 5,000,000,000 (0.00%)" in text


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (0, "0 SUCCESS"),
        (-5, "-5 ERROR_PARSE_ERROR"),
        (-99, "-99 ERROR_UNKNOWN"),
        (7, "unknown code 7"),
    ],
)
def test_return_code_is_decoded(code: int, shown: str) -> None:
    trace = replace(success_trace(), return_code=code)
    assert f"return    {shown}" in render(TraceTimeline(trace))


def test_out_of_fuel_shows_the_whole_limit_used() -> None:
    assert "fuel      100,000 of 100,000 (100.00%)" in render(TraceTimeline(out_of_fuel_trace()))


def test_suppressed_log_lines_are_counted_in_the_header() -> None:
    text = render(TraceTimeline(suppressed_logs_trace()))
    assert "events    23 (+200 log lines not recorded)" in text


def test_a_binary_that_was_never_loaded_is_named_by_the_reference() -> None:
    lines = timeline(load_error_trace())
    assert lines[0].startswith("trace a06c3d92 · abc-123 (not loaded)  ───")
    assert "binary   abc-123 (not loaded)" in lines[1]
    assert "status    failed: load" in lines[1]
    assert "fuel      — of 5,000,000,000" in "\n".join(lines)


# Rows ---------------------------------------------------------------------------------


def test_rows_follow_the_event_flow_in_order() -> None:
    trace = success_trace()
    lines = timeline(trace)
    start = lines.index(next(line for line in lines if line.lstrip().startswith("ms")))
    rows = lines[start + 1 :]
    assert [r.split()[1 if i == 0 else 2] for i, r in enumerate(rows)] == [
        e.event_type.value for e in trace.events
    ]


def test_rows_show_time_delta_type_message_details_and_position() -> None:
    lines = timeline(success_trace())
    header = next(line for line in lines if line.lstrip().startswith("ms "))
    assert header == "   ms      +Δ  event              what" + " " * 50 + "0    0.84 ms"
    assert row(lines, "ExecutionStart") == (
        "0.000          ExecutionStart     Starting execution  input 5 B · timeout 5 s · memor…"
        "  █···········"
    )
    assert row(lines, "LoadComplete") == (
        "0.412  +0.400  LoadComplete       Module loaded  1.2 KiB · from cache"
        "                   ─────█······"
    )
    assert row(lines, "MemoryOp", "Env written") == (
        "0.611  +0.009  MemoryOp           Env written  62 B at 65541 · fresh_pages · pages 2"
        "    ········█···"
    )
    assert row(lines, "PluginLog", "Hello") == (
        "0.655  +0.035  PluginLog          Hello, world!  line 1"
        "                                 ········─█··"
    )
    assert row(lines, "ExecutionComplete") == (
        "0.801  +0.011  ExecutionComplete  Execution complete  0 SUCCESS · output 36 B in 3 li…"
        "  ···········█"
    )


def test_event_details_carry_the_metadata_that_matters() -> None:
    lines = timeline(success_trace(), 140)
    assert "Fuel limit set  limit 5,000,000,000" in row(lines, "FuelCheckpoint", "limit set")
    assert "used 1,234 · left 4,999,998,766" in row(lines, "FuelCheckpoint", "consumed")
    assert "Memory size checked  1 page · limit 1,024 · no max" in row(lines, "MemoryOp", "size")
    assert "5 B at 65536 · fresh_pages · pages 1→2" in row(lines, "MemoryOp", "Input")
    assert "Calling process  process(65536, 5, 65541, 62)" in row(lines, "FunctionCall", "proc")
    assert "Module instantiated  1 page" in row(lines, "FunctionCall", "instantiated")
    assert "0 SUCCESS · output 36 B in 3 lines" in row(lines, "ExecutionComplete")
    assert "input 5 B · timeout 5 s · memory 64 MiB · env 62 B" in row(lines, "ExecutionStart")


def test_details_for_placement_at_offset_0_and_compiles() -> None:
    write = TraceEvent(
        602,
        TraceEventType.MEMORY_OP,
        None,
        "Input written",
        {
            "operation": "write_input",
            "ptr": 0,
            "bytes": 2048,
            "placement": "offset_0",
            "pages_before": 1,
            "pages_after": 1,
        },
    )
    assert event_details(write) == "2.0 KiB at 0 · offset_0 · pages 1"
    compiled = TraceEvent(
        412,
        TraceEventType.LOAD_COMPLETE,
        None,
        "Module loaded",
        {
            "size_bytes": 3_500_000,
            "from_cache": False,
            "compile_ms": 41.7,
        },
    )
    assert event_details(compiled) == "3.3 MiB · compiled in 41.7 ms"
    ret = TraceEvent(744, TraceEventType.EXECUTION_COMPLETE, None, "done", {"return_code": 7})
    assert event_details(ret) == "unknown code 7"


def test_the_longest_gap_is_where_the_bar_runs() -> None:
    lines = timeline(timeout_trace())
    error = row(lines, "ExecutionError")
    assert error.startswith("5,000.913  +4,999.709  ExecutionError")
    assert error.endswith("───────────█")
    # Everything before the deadline happened in the first cell of the bar.
    assert row(lines, "PluginLog").endswith("█···········")


def test_suppressed_log_note_is_shown_once_without_repeating_the_count() -> None:
    lines = timeline(suppressed_logs_trace())
    note = row(lines, "PluginLog", "not recorded")
    assert "200 log lines not recorded  " in note or note.split("█")[0].rstrip().endswith(
        "200 log lines not recorded"
    )
    assert "200 lines" not in note
    assert sum("PluginLog" in line for line in lines) == 11


# Error panel --------------------------------------------------------------------------


def test_trap_panel_has_kind_message_and_backtrace() -> None:
    lines = timeline(trap_trace())
    top = lines.index(next(line for line in lines if line.startswith("╭─ ✗ trap ─")))
    panel = [line.strip("│ ").rstrip() for line in lines[top + 1 : -1]]
    assert lines[-1].startswith("╰") and len(lines[-1]) == 100
    assert panel == [
        "wasm trap: integer divide by zero",
        "",
        "stage   process",
        "at      +0.907 ms",
        "memory  2 pages",
        "",
        "wasm backtrace",
        *BACKTRACE,
    ]
    assert lines[top + 8] == "│   0: 0x4a - divider!divide".ljust(99) + "│"


def test_unnumbered_frames_are_numbered() -> None:
    trace = trap_trace()
    error = replace(
        trace.events[-1],
        metadata={
            **trace.events[-1].metadata,
            "backtrace": ["divide", "process"],
        },
    )
    text = render(TraceTimeline(replace(trace, events=(*trace.events[:-1], error))))
    assert "#0 divide" in text and "#1 process" in text


def test_timeout_panel_without_frames_has_no_backtrace_section() -> None:
    text = render(TraceTimeline(timeout_trace()))
    assert "╭─ ✗ timeout ─" in text
    assert "│ Execution timeout" in text
    assert "at     +5,000.913 ms" in text
    assert "backtrace" not in text


def test_plugin_error_panel_shows_the_decoded_return_code() -> None:
    text = render(TraceTimeline(plugin_error_trace()))
    assert "╭─ ✗ plugin_error ─" in text
    assert "│ Plugin returned ERROR_PARSE_ERROR (-5)" in text
    assert "│ return  -5 ERROR_PARSE_ERROR" in text


def test_load_error_panel() -> None:
    text = render(TraceTimeline(load_error_trace()))
    assert "╭─ ✗ load ─" in text
    assert "│ Failed to get binary: Binary not found: abc-123" in text
    assert "│ stage  load" in text


def test_successful_runs_have_no_panel() -> None:
    assert "╭" not in render(TraceTimeline(success_trace()))


# Widths -------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_no_line_is_wider_than_the_terminal(width: int) -> None:
    for trace in all_samples():
        for line in timeline(trace, width):
            assert len(line) <= width, (trace.trace_id, line)


def test_narrow_terminal_drops_bar_and_delta_and_stacks_the_header() -> None:
    lines = timeline(success_trace(), 60)
    text = "\n".join(lines)
    assert "█" not in text and "+0.400" not in text
    assert lines[1:10] == [
        "binary    hello (4f1c2a9e)",
        "trace     3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607",
        "engine    wasmtime",
        "started   2026-11-26 17:40:00.123 EST",
        "status    ok",
        "return    0 SUCCESS",
        "duration  0.84 ms",
        "fuel      1,234 of 5,000,000,000 (0.00%)",
        "events    15",
    ]
    # Details that do not fit beside the message get a line of their own.
    start = lines.index(row(lines, "LoadComplete"))
    assert lines[start : start + 2] == [
        "0.412  LoadComplete       Module loaded",
        "                          1.2 KiB · from cache",
    ]
    assert row(lines, "PluginLog", "Hello") == "0.655  PluginLog          Hello, world!  line 1"


def test_wide_terminal_has_a_longer_bar_and_every_detail() -> None:
    lines = timeline(success_trace(), 140)
    assert row(lines, "ExecutionComplete").endswith("  ······················█·")
    assert row(lines, "ExecutionStart") == (
        "0.000          ExecutionStart     Starting execution  input 5 B · timeout 5 s · "
        "memory 64 MiB · env 62 B  █·······················"
    )


# Untrusted text -----------------------------------------------------------------------


def test_markup_in_log_lines_and_names_is_shown_literally() -> None:
    text = render(TraceTimeline(tricky_logs_trace()), 140)
    assert MARKUP_LINE[:60] in text
    assert "binary   [red]hello[/red] (4f1c2a9e)" in text


def test_markup_is_literal_on_a_color_terminal_too() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=True, color_system="truecolor")
    console.print(TraceTimeline(tricky_logs_trace()))
    assert "[bold]not bold[/bold]" in buffer.getvalue()


def test_control_characters_are_made_visible() -> None:
    text = render(TraceTimeline(tricky_logs_trace()), 140)
    assert "\x1b" not in text
    assert r"\x1b[31mred?\x1b[0m and a↵newline" in text
    assert CONTROL_LINE not in text


def test_very_long_messages_are_cut_with_an_ellipsis() -> None:
    lines = timeline(tricky_logs_trace(), 100)
    long_row = row(lines, "PluginLog", "long line")
    assert long_row.startswith("0.700  +0.045  PluginLog          long line xxxxxxxx")
    assert "x…  " in long_row and "END" not in long_row
    assert len(long_row) == 100


# Printing -----------------------------------------------------------------------------


def plain(text: str) -> str:
    # FORCE_COLOR in the environment makes the default console style its output.
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_print_trace_writes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    print_trace(success_trace())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "trace 3f2a9c1b · hello" in plain(captured.err)
    assert "ExecutionComplete" in plain(captured.err)


def test_print_trace_uses_the_given_console() -> None:
    buffer = io.StringIO()
    print_trace(trap_trace(), Console(file=buffer, width=100, color_system=None))
    assert "╭─ ✗ trap ─" in buffer.getvalue()


def test_a_trace_without_events_still_renders() -> None:
    trace = replace(success_trace(), events=())
    text = render(TraceTimeline(trace))
    assert "no events recorded" in text
    assert "events    0" in text
