"""The timeline renderable, on traces of real runs: header, rows, load steps, the bar,
folded floods, error panels, widths and untrusted text."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from rich.console import Console

from tests.trace_samples import (  # noqa: F401 - eastern_time is a fixture
    all_samples,
    eastern_time,
    load_error_trace,
    out_of_fuel_trace,
    panic_trace,
    plugin_error_trace,
    render,
    success_trace,
    suppressed_logs_trace,
    timeout_trace,
    trap_trace,
    tricky_logs_trace,
)
from wasmcli.render.event_details import event_detail_parts, event_message
from wasmcli.render.timeline import TraceTimeline, event_details, print_trace
from wasmcli.tracing.events import ExecutionTrace, TraceEvent, TraceEventType

T = TraceEventType
pytestmark = pytest.mark.usefixtures("eastern_time")


def timeline(trace: ExecutionTrace, width: int = 100) -> list[str]:
    return render(TraceTimeline(trace), width).splitlines()


def table_rows(lines: list[str]) -> list[tuple[str, str]]:
    """(event type, the row's "what" text, its wrapped lines joined) per table row."""
    header = next(i for i, line in enumerate(lines) if re.match(r"\s*ms\s", line))
    what_at = lines[header].index("what")
    kind_at = lines[header].index("event")
    rows: list[tuple[str, str]] = []
    for line in lines[header + 2 :]:
        if not line.strip() or line.startswith(("╭", "│", "╰")) or "events shown" in line:
            break
        kind = line[kind_at:what_at].strip()
        # The what column ends where the bar starts (two spaces, then the track).
        what = re.split(r"\s{2,}[█·─┆]+$", line[what_at:])[0].strip()
        if kind:
            rows.append((kind, what))
        else:
            rows[-1] = (rows[-1][0], f"{rows[-1][1]} {what}")
    return rows


def row(lines: list[str], event_type: str, containing: str = "") -> str:
    """The first line of a row of that event type (and text)."""
    for line in lines:
        if event_type in line.split() and containing in line:
            return line
    raise AssertionError(f"no {event_type} row with {containing!r} in:\n" + "\n".join(lines))


# Header ------------------------------------------------------------------------------


def test_success_header_shows_what_ran_and_how_it_ended() -> None:
    lines = timeline(success_trace())
    assert lines[0].startswith("trace 3f2a9c1b · hello  ─────")
    assert len(lines[0]) == 100
    assert lines[1:7] == [
        "binary   hello (54b443ef)                      status    ok",
        "trace    3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607  return    0 SUCCESS",
        "engine   wasmtime                              duration  143 ms",
        "started  2026-11-26 17:40:00.123 EST           fuel      40 of 5,000,000,000 (0.00%)",
        "                                               events    16",
        "",
    ]


def test_failed_header_names_the_kind_and_an_unknown_fuel() -> None:
    text = render(TraceTimeline(trap_trace()))
    assert "status    failed: trap" in text
    assert "return    —" in text
    assert "fuel      — of 5,000,000,000" in text  # wasmtime cannot tell after a trap


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
    assert "events    1016 (+4,000 log lines not recorded)" in text


def test_a_binary_that_was_never_loaded_is_named_by_the_reference() -> None:
    lines = timeline(load_error_trace())
    assert lines[0].startswith("trace a06c3d92 · abc-123 (not loaded)  ───")
    assert "binary   abc-123 (not loaded)" in lines[1]
    assert "status    failed: load" in lines[1]
    assert "fuel      — of 5,000,000,000" in "\n".join(lines)


# Rows ---------------------------------------------------------------------------------


def test_rows_follow_the_event_flow_in_order() -> None:
    trace = success_trace()
    assert [kind for kind, _ in table_rows(timeline(trace))] == [
        e.event_type.value for e in trace.events
    ]


def test_rows_show_time_delta_type_message_details_and_position() -> None:
    lines = timeline(success_trace(), 120)
    assert lines[7] == (
        "     ms        +Δ  event              what" + " " * 54 + "load  ┆131 ms     143 ms"
    )
    assert row(lines, "LoadStart") == (
        "  0.160    +0.025  LoadStart          Loading sample_plugins/hello.wasm"
        + " " * 25
        + "█·····┆·················"
    )
    assert row(lines, "MemoryOp", "Input") == (
        "140.343    +0.202  MemoryOp           Input written  5 B at 65536 · fresh_pages · "
        "pages 1→2     ······┆············█····"
    )
    assert row(lines, "PluginLog") == (
        "140.713    +0.355  PluginLog          Hello, world!  line 1"
        + " " * 37
        + "······┆·············█···"
    )
    assert row(lines, "ExecutionComplete") == (
        "143.265    +2.461  ExecutionComplete  Execution complete  0 SUCCESS · "
        "output 13 B in 1 line     ······┆··············──█"
    )


def test_event_details_carry_the_metadata_that_matters() -> None:
    details = {e.message: event_details(e) for e in success_trace().events}
    assert details["Starting execution"] == (
        "input 5 B · env 50 B · timeout 5 s · fuel 5,000,000,000 · memory 64 MiB · "
        "output ≤ 1.0 MiB · seed 42"
    )
    assert details["Loading sample_plugins/hello.wasm"] == ""  # the message has it
    assert details["Binary read"] == "157 B · from a file"
    assert details["Engine imported"] == "wasmtime"
    assert details["Engine started"] == "wasmtime 50.0.1"
    assert details["Module compiled"] == "157 B"
    assert details["Fuel limit set"] == "limit 5,000,000,000"
    assert details["Registered host.log"] == ""
    assert details["Module instantiated"] == "1 page"
    assert details["Memory size checked"] == "1 page · limit 1,024 · no max"
    assert details["Input written"] == "5 B at 65536 · fresh_pages · pages 1→2"
    assert details["Calling process"] == "process(65536, 5, 65541, 50)"
    assert details["Hello, world!"] == "line 1"
    assert details["Fuel consumed"] == "used 40 · left 4,999,999,960"
    assert details["Execution complete"] == "0 SUCCESS · output 13 B in 1 line"
    error = trap_trace().events[-1]
    assert event_details(error) == "trap during process"
    unknown = next(e for e in trap_trace().events if "unknown" in e.message)
    assert event_details(unknown) == "limit 5,000,000,000"


def test_each_load_step_is_a_row_whose_delta_is_its_time() -> None:
    rows = [line for line in timeline(success_trace(), 100) if "LoadComplete" in line]
    assert [re.sub(r"\s+[█·─┆]+$", "", line) for line in rows] == [
        "  0.612    +0.452  LoadComplete       Binary read  157 B · from a file",
        "107.589  +106.977  LoadComplete       Engine imported  wasmtime",
        "111.078    +3.489  LoadComplete       Engine started  wasmtime 50.0.1",
        "131.026   +19.948  LoadComplete       Module compiled  157 B",
    ]


def test_details_of_placements_returns_and_older_traces() -> None:
    def event(kind: TraceEventType, message: str, **meta: object) -> TraceEvent:
        return TraceEvent(0, kind, None, message, dict(meta))

    write = event(
        T.MEMORY_OP,
        "Input written",
        operation="write_input",
        ptr=0,
        bytes=2048,
        placement="offset_0",
        pages_before=1,
        pages_after=1,
    )
    assert event_details(write) == "2.0 KiB at 0 · offset_0 · pages 1"
    assert event_details(event(T.EXECUTION_COMPLETE, "done", return_code=7)) == "unknown code 7"
    # A trace recorded before load steps: one LoadComplete, with compile_ms.
    old = event(T.LOAD_COMPLETE, "Module compiled", size_bytes=3_500_000, compile_ms=41.7)
    assert event_details(old) == "3.3 MiB · compiled in 41.7 ms"
    cached = event(T.LOAD_COMPLETE, "Module loaded from cache", size_bytes=157, from_cache=True)
    assert event_details(cached) == "157 B"  # the message already says "from cache"


# The position bar ---------------------------------------------------------------------


def bar_of(line: str) -> str:
    return line[-24:]  # the bar is the last column, 24 cells at 120 columns


def test_when_loading_takes_most_of_the_run_the_plugins_events_stay_visible() -> None:
    # hello: 131 of 143 ms went to loading. The bar gives loading its own quarter and
    # spreads what the plugin did over the rest, instead of one cell.
    lines = timeline(success_trace(), 120)
    assert "load  ┆131 ms     143 ms" in lines[7]
    cells = [
        bar_of(row(lines, kind, text)).index("█")
        for kind, text in (
            ("FuelCheckpoint", "limit set"),
            ("FunctionCall", "instantiated"),
            ("ExecutionComplete", ""),
        )
    ]
    assert cells == sorted(set(cells))  # three different cells, in order
    assert all(cell > 6 for cell in cells)  # all in the run part, after the divider
    assert bar_of(row(lines, "LoadStart"))[6] == "┆"
    assert bar_of(row(lines, "LoadComplete", "Engine imported")).index("█") < 6


def test_a_run_that_dominates_its_trace_keeps_one_scale() -> None:
    lines = timeline(timeout_trace(), 120)
    assert "┆" not in "\n".join(lines)
    header = lines[7]
    assert header.endswith("what" + " " * 53 + "0                 1.11 s")
    error = row(lines, "ExecutionError")
    assert error.startswith("1,107.025    +0.210  ExecutionError")
    assert bar_of(row(lines, "FuelCheckpoint", "unknown")).endswith("─────█")


def test_a_failed_load_keeps_one_scale() -> None:
    assert "┆" not in render(TraceTimeline(load_error_trace()), 120)


# Floods -------------------------------------------------------------------------------


def test_a_flood_of_identical_lines_folds_into_one_row() -> None:
    lines = timeline(suppressed_logs_trace(), 100)
    logs = [what for kind, what in table_rows(lines) if kind == "PluginLog"]
    assert logs[0].startswith("tick × 1,000  lines 1–1,000 · over ")
    assert logs[1] == "4,000 more log lines left out of the trace"
    assert len(logs) == 2


def test_the_note_of_left_out_lines_says_the_count_once() -> None:
    # A flood's timeline once said "4,000 more log lines left out of the trace  4,000
    # lines left out".
    text = render(TraceTimeline(suppressed_logs_trace()), 120)
    assert text.count("4,000") == 2  # the header, and the note
    assert "lines left out" not in text.replace("log lines left out of the trace", "")


def test_different_lines_do_not_fold() -> None:
    lines = timeline(tricky_logs_trace(), 120)
    assert sum(kind == "PluginLog" for kind, _ in table_rows(lines)) == 4


# Error panel --------------------------------------------------------------------------


def panel(lines: list[str]) -> list[str]:
    top = next(i for i, line in enumerate(lines) if line.startswith("╭─ ✗"))
    return [line[2:-1].rstrip() for line in lines[top + 1 : -1]]


def test_trap_panel_has_kind_message_and_backtrace() -> None:
    lines = timeline(trap_trace())
    assert lines[-1].startswith("╰") and len(lines[-1]) == 100
    assert next(line for line in lines if line.startswith("╭─ ✗ trap ─"))
    assert panel(lines) == [
        "Plugin trapped: integer divide by zero",
        "",
        "stage   process",
        "at      +81.707 ms",
        "memory  2 pages",
        "",
        "wasm backtrace",
        "  #0 process @ 0x3b",
    ]


def test_a_panic_panel_shows_the_plugins_last_log_line_and_rust_names() -> None:
    body = panel(timeline(panic_trace()))
    assert body[:3] == [
        "Plugin trapped: unreachable instruction executed (a plugin panic or abort)",
        "",
        "last log  panic at faulty/panic.rs:17",
    ]
    assert body[-5:] == [
        "  #0 panic::sdk::on_panic @ 0x388",
        "  #1 rust_begin_unwind @ 0x7e5",
        "  #2 core::panicking::panic_fmt @ 0x7d9",
        "  #3 panic::fail @ 0x78c",
        "  #4 process @ 0x73d",
    ]


def test_unnumbered_frames_are_numbered() -> None:
    trace = trap_trace()
    error = replace(
        trace.events[-1], metadata={**trace.events[-1].metadata, "backtrace": ["divide", "process"]}
    )
    text = render(TraceTimeline(replace(trace, events=(*trace.events[:-1], error))))
    assert "#0 divide" in text and "#1 process" in text


def test_timeout_panel_gives_the_limit_and_how_to_raise_it() -> None:
    body = panel(timeline(timeout_trace()))
    assert body[:3] == ["Execution timeout", "", "limit   1 s"]
    assert "Raise the limit with --timeout-ms." in body


def test_out_of_fuel_panel_gives_the_limit_and_how_to_raise_it() -> None:
    body = panel(timeline(out_of_fuel_trace()))
    assert body[:3] == ["Out of fuel: the plugin used all 100,000 units", "", "limit   100,000"]
    assert "Raise the limit with --fuel." in body


def test_plugin_error_panel_says_what_the_code_means_and_the_last_log_line() -> None:
    lines = timeline(plugin_error_trace())
    body = panel(lines)
    assert body == [
        "The plugin returned ERROR_PARSE_ERROR (-5): input could not be parsed",
        "",
        "last log  error: invalid JSON at byte 14: expected a key in double quotes",
    ]
    assert sum("ERROR_PARSE_ERROR" in line for line in body) == 1


def test_load_error_panel() -> None:
    body = panel(timeline(load_error_trace()))
    assert body == [
        "Failed to get binary: Binary not found: abc-123",
        "",
        "stage  load",
        "at     +0.626 ms",
    ]


def test_successful_runs_have_no_panel() -> None:
    assert "╭" not in render(TraceTimeline(success_trace()))


# Widths -------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 140])
def test_no_line_is_wider_than_the_terminal(width: int) -> None:
    for trace in all_samples():
        for line in timeline(trace, width):
            assert len(line) <= width, (trace.trace_id, line)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_nothing_but_long_log_lines_is_cut(width: int) -> None:
    # Every message and every detail of every event is on screen, whole (wrapped at
    # most), at any width: limits, the reason fuel is unknown, trap messages.
    for trace in all_samples():
        # Rows may wrap anywhere (a path folds mid-word): compare without white space.
        shown = "".join(what for _, what in table_rows(timeline(trace, width)))
        shown = re.sub(r"\s+", "", shown)
        for event in trace.events:
            if event.event_type is T.PLUGIN_LOG:
                continue
            for part in [event_message(event), *event_detail_parts(event)]:
                assert re.sub(r"\s+", "", part) in shown, (width, part)


def test_narrow_terminal_drops_bar_and_delta_and_stacks_the_header() -> None:
    lines = timeline(success_trace(), 60)
    text = "\n".join(lines)
    assert "█" not in text and "+0.452" not in text
    assert lines[1:10] == [
        "binary    hello (54b443ef)",
        "trace     3f2a9c1b-5d6e-4f70-8a91-b2c3d4e5f607",
        "engine    wasmtime",
        "started   2026-11-26 17:40:00.123 EST",
        "status    ok",
        "return    0 SUCCESS",
        "duration  143 ms",
        "fuel      40 of 5,000,000,000 (0.00%)",
        "events    16",
    ]
    # Details that do not fit beside the message get lines of their own, broken only
    # between fields.
    start = lines.index(row(lines, "ExecutionStart"))
    assert lines[start : start + 5] == [
        "  0.135  ExecutionStart     Starting execution",
        "                            input 5 B · env 50 B",
        "                            timeout 5 s · fuel 5,000,000,000",
        "                            memory 64 MiB · output ≤ 1.0 MiB",
        "                            seed 42",
    ]


def test_filtered_timelines_say_how_many_events_are_shown() -> None:
    trace = suppressed_logs_trace()
    kept = frozenset(t for t in TraceEventType if t is not T.PLUGIN_LOG)
    text = render(TraceTimeline(trace, event_types=kept), 100)
    assert "tick" not in text
    assert "15 of 1,016 events shown" in text
    assert "events    1016 (+4,000 log lines not recorded)" in text


# Untrusted text -----------------------------------------------------------------------


def test_markup_in_log_lines_is_shown_literally() -> None:
    text = render(TraceTimeline(tricky_logs_trace()), 140)
    assert "[bold]not bold[/bold] and [red]not red[/] \\[escaped]" in text


def test_markup_is_literal_on_a_color_terminal_too() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=True, color_system="truecolor")
    console.print(TraceTimeline(tricky_logs_trace()))
    assert "[bold]not bold[/bold]" in buffer.getvalue()


def test_control_and_bidi_characters_are_made_visible() -> None:
    text = render(TraceTimeline(tricky_logs_trace()), 140)
    assert "\x1b" not in text and "\u202e" not in text and "\x9b" not in text
    assert r"\x1b[31mred?\x1b[0m and a↵newline" in text
    assert r"\u202eevil\u202c bidi and \x9b C1" in text


def test_a_very_long_log_line_is_clipped_saying_how_much() -> None:
    lines = timeline(tricky_logs_trace(), 100)
    long_row = [what for kind, what in table_rows(lines) if what.startswith("long line")]
    (what,) = long_row
    assert "END" not in what
    assert re.search(r"x… \(\+\d+ characters\)", what)
    start = lines.index(row(lines, "PluginLog", "long line"))
    what = lines[start].index("long line")
    assert [line[what:].rstrip(" ·┆█─") for line in lines[start : start + 4]] == [
        "long line",
        "x" * 50,
        "x" * 31 + "… (+323 characters)",  # three rows of the column, no more
        "line 2",
    ]


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
