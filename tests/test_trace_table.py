"""`traces list` table and the one-line run summary."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

import pytest
from rich.console import Console
from rich.text import Text

from tests.trace_samples import (  # noqa: F401 - eastern_time is a fixture
    all_samples,
    eastern_time,
    load_error_trace,
    local_timezone,
    out_of_fuel_trace,
    panic_trace,
    plugin_error_trace,
    render,
    success_trace,
    timeout_trace,
    trap_trace,
    tricky_logs_trace,
)
from wasmcli.errors import ErrorKind
from wasmcli.render.formatting import (
    format_bytes,
    format_delta,
    format_duration,
    format_fuel,
    format_fuel_usage,
    format_ms,
    format_offset,
    format_return_code,
    one_line,
    short_id,
    truncate,
)
from wasmcli.render.trace_table import RunSummary, SummaryLine, run_summary_line, traces_table
from wasmcli.tracing.events import ExecutionTrace

pytestmark = pytest.mark.usefixtures("eastern_time")


FULL = [
    "id        started              binary                engine    status        return"
    "                duration     fuel",
    "─" * 116,
    "c0ffee11  2026-11-26 17:48:00  panic                 wasmtime  trap          —"
    "                       203 ms        —",
    "7ad3c6e1  2026-11-26 17:47:00  tricky_logs           wasmtime  ok            0 SUCCESS"
    "              83.9 ms       14",
    "19f8e4a7  2026-11-26 17:46:00  json_fields           wasmtime  plugin_error  "
    "-5 ERROR_PARSE_ERROR    136 ms    3,945",
    "e47b2c15  2026-11-26 17:45:00  infinite_loop         wasmtime  out_of_fuel   —"
    "                      75.7 ms  100,000",
    "a06c3d92  2026-11-26 17:44:00  abc-123 (not loaded)  wasmtime  load          —"
    "                      0.64 ms        —",
    "5b7f1e08  2026-11-26 17:43:00  infinite_loop         wasmtime  timeout       —"
    "                       1.11 s        —",
    "d2e9a6f3  2026-11-26 17:42:00  divide_by_zero        wasmtime  trap          —"
    "                      81.7 ms        —",
    "8c41d07e  2026-11-26 17:41:00  chatty                wasmtime  ok            0 SUCCESS"
    "               533 ms   55,002",
    "3f2a9c1b  2026-11-26 17:40:00  hello                 wasmtime  ok            0 SUCCESS"
    "               143 ms       40",
]

AT_80 = [
    "id        started      binary      engine    status        rc  duration     fuel",
    "─" * 80,
    "c0ffee11  11-26 17:48  panic       wasmtime  trap          —     203 ms        —",
    "7ad3c6e1  11-26 17:47  tricky_lo…  wasmtime  ok            0    83.9 ms       14",
    "19f8e4a7  11-26 17:46  json_fiel…  wasmtime  plugin_error  -5    136 ms    3,945",
    "e47b2c15  11-26 17:45  infinite_…  wasmtime  out_of_fuel   —    75.7 ms  100,000",
    "a06c3d92  11-26 17:44  abc-123 (…  wasmtime  load          —    0.64 ms        —",
    "5b7f1e08  11-26 17:43  infinite_…  wasmtime  timeout       —     1.11 s        —",
    "d2e9a6f3  11-26 17:42  divide_by…  wasmtime  trap          —    81.7 ms        —",
    "8c41d07e  11-26 17:41  chatty      wasmtime  ok            0     533 ms   55,002",
    "3f2a9c1b  11-26 17:40  hello       wasmtime  ok            0     143 ms       40",
]


def test_table_lists_every_column_newest_first() -> None:
    assert render(traces_table(all_samples()), 140).splitlines() == FULL


def test_table_keeps_the_order_it_is_given() -> None:
    traces = [success_trace(), trap_trace()]
    lines = render(traces_table(traces), 140).splitlines()
    assert [line.split()[0] for line in lines[2:]] == ["3f2a9c1b", "d2e9a6f3"]


def test_a_given_width_that_fits_changes_nothing() -> None:
    assert render(traces_table(all_samples(), width=120), 140).splitlines() == FULL


def test_at_100_columns_the_binary_and_the_time_shrink_first() -> None:
    lines = render(traces_table(all_samples(), width=100), 100).splitlines()
    assert lines[0].split() == [
        "id", "started", "binary", "engine", "status", "return", "duration", "fuel"
    ]  # fmt: skip
    assert lines[4] == (
        "19f8e4a7  11-26 17:46  json_fields   wasmtime  plugin_error  -5 ERROR_PARSE_ERROR"
        "    136 ms    3,945"
    )
    assert "infinite_lo…" in lines[5]


def test_at_80_columns_duration_fuel_and_engine_stay() -> None:
    assert render(traces_table(all_samples(), width=80), 80).splitlines() == AT_80


def test_only_very_narrow_terminals_lose_columns() -> None:
    lines = render(traces_table(all_samples(), width=60), 60).splitlines()
    assert lines[0].split() == ["id", "started", "binary", "status", "duration"]
    assert lines[2] == "c0ffee11  11-26 17:48  panic          trap            203 ms"


@pytest.mark.parametrize(("width", "expected"), [(80, AT_80), (140, FULL)])
def test_a_table_fits_itself_to_the_console_it_is_printed_on(
    width: int, expected: list[str]
) -> None:
    assert render(traces_table(all_samples()), width).splitlines() == expected
    assert render(traces_table(all_samples(), width=140), width).splitlines() == expected


@pytest.mark.parametrize("width", [60, 70, 80, 100, 120])
def test_rows_fit_the_width_and_ids_are_never_cut(width: int) -> None:
    lines = render(traces_table(all_samples(), width=width), width).splitlines()
    assert all(len(line) <= width for line in lines)
    assert [line[:8] for line in lines[2:]] == [t.trace_id[:8] for t in all_samples()]


def test_unknown_return_codes_and_long_binary_names() -> None:
    trace = replace(success_trace(), return_code=7, binary_name="a-very-long-plugin-name-indeed")
    line = render(traces_table([trace]), 140).splitlines()[2]
    assert "unknown code 7" in line
    assert "a-very-long-plugin-name…" in line


def test_a_binary_without_a_name_shows_its_short_id() -> None:
    trace = replace(success_trace(), binary_name=None)
    assert "  54b443ef  " in render(traces_table([trace]), 140).splitlines()[2]


def test_empty_table_has_headers_only() -> None:
    lines = render(traces_table([]), 100).splitlines()
    assert lines[0].split() == [
        "id", "started", "binary", "engine", "status", "return", "duration", "fuel"
    ]  # fmt: skip
    assert len(lines) == 2


# Summary line -------------------------------------------------------------------------


def summary(run: object) -> str:
    assert isinstance(run, Text)
    return run.plain


def test_summary_of_a_successful_run() -> None:
    assert summary(run_summary_line(success_trace())) == (
        "✓ hello · SUCCESS (0) · 143 ms · fuel 40 of 5,000,000,000 · trace 3f2a9c1b"
    )


def test_summary_of_a_trap() -> None:
    assert summary(run_summary_line(trap_trace())) == (
        "✗ divide_by_zero · trap: Plugin trapped: integer divide by zero · 81.7 ms · trace d2e9a6f3"
    )


def test_summary_of_a_plugin_error_names_the_code() -> None:
    assert summary(run_summary_line(plugin_error_trace())) == (
        "✗ json_fields · ERROR_PARSE_ERROR (-5) · 136 ms · fuel 3,945 of 5,000,000,000"
        " · trace 19f8e4a7"
    )


def test_summary_of_other_failures() -> None:
    assert summary(run_summary_line(timeout_trace())) == (
        "✗ infinite_loop · timeout: Execution timeout · 1.11 s · trace 5b7f1e08"
    )
    assert summary(run_summary_line(out_of_fuel_trace())) == (
        "✗ infinite_loop · out_of_fuel: Out of fuel: the plugin used all 100,000 units"
        " · 75.7 ms · fuel 100,000 of 100,000 · trace e47b2c15"
    )
    assert summary(run_summary_line(load_error_trace())) == (
        "✗ abc-123 (not loaded) · load: Failed to get binary: Binary not found: abc-123"
        " · 0.64 ms · trace a06c3d92"
    )


def test_summary_without_a_trace() -> None:
    run = RunSummary(
        binary="hello",
        success=True,
        duration_us=840,
        return_code=0,
        fuel_consumed=31,
        fuel_limit=5_000_000_000,
    )
    assert summary(run_summary_line(run)) == (
        "✓ hello · SUCCESS (0) · 0.84 ms · fuel 31 of 5,000,000,000"
    )
    bare = RunSummary(
        binary="hello",
        success=False,
        duration_us=1_230_000,
        error_kind="io",
        error_message="Output is not valid UTF-8",
    )
    assert summary(run_summary_line(bare)) == "✗ hello · io: Output is not valid UTF-8 · 1.23 s"


def test_summary_from_explicit_fields_of_a_trace() -> None:
    trace = trap_trace()
    run = RunSummary(
        binary="divide_by_zero",
        success=False,
        duration_us=trace.duration_us,
        error_kind="trap",
        error_message="Plugin trapped: integer divide by zero",
        fuel_limit=5_000_000_000,
        trace_id=trace.trace_id,
    )
    assert RunSummary.from_trace(trace) == run


def test_summary_keeps_untrusted_text_literal_and_on_one_line() -> None:
    run = RunSummary(
        binary="[bold]x[/bold]",
        success=False,
        duration_us=10,
        error_kind="trap",
        error_message="line one\nline two \x1b[2J" + "y" * 300,
    )
    text = summary(run_summary_line(run))
    assert text.startswith("✗ [bold]x[/bold] · trap: line one↵line two \\x1b[2J")
    assert "\n" not in text and "\x1b" not in text
    assert "y…" in text and len(text) < 220


def test_summary_is_colored_by_outcome() -> None:
    ok, failed = run_summary_line(success_trace()), run_summary_line(trap_trace())
    assert any("green" in str(span.style) for span in ok.spans)
    assert any("red" in str(span.style) for span in failed.spans)


# A stand-in with the shape of wasmcli.runtime.result.RunResult (kind is an ErrorKind).
@dataclass(frozen=True)
class FakeError:
    kind: ErrorKind
    message: str


@dataclass(frozen=True)
class FakeResult:
    binary_name: str | None
    binary_id: str | None
    duration_ms: float
    return_code: int | None
    fuel_consumed: int | None
    fuel_limit: int
    trace_id: str | None
    error: FakeError | None = None
    trace: ExecutionTrace | None = None


def test_summary_of_a_run_result_with_tracing_off() -> None:
    ok = FakeResult("hello", "4f1c2a9e-x", 0.84, 0, 31, 5_000_000_000, None)
    assert summary(run_summary_line(ok)) == (
        "✓ hello · SUCCESS (0) · 0.84 ms · fuel 31 of 5,000,000,000"
    )
    trapped = FakeResult(
        None,
        "d2e9a6f3-x",
        0.913,
        None,
        31,
        5_000_000_000,
        "d2e9a6f3-y",
        FakeError(ErrorKind.TRAP, "wasm trap: integer divide by zero"),
    )
    assert summary(run_summary_line(trapped)) == (
        "✗ d2e9a6f3 · trap: wasm trap: integer divide by zero · 0.91 ms"
        " · fuel 31 of 5,000,000,000 · trace d2e9a6f3"
    )
    rejected = FakeResult(
        "parser",
        None,
        0.76,
        -5,
        402,
        5_000_000_000,
        None,
        FakeError(ErrorKind.PLUGIN_ERROR, "Plugin returned ERROR_PARSE_ERROR"),
    )
    assert summary(run_summary_line(rejected)).startswith("✗ parser · ERROR_PARSE_ERROR (-5) · ")


def test_summary_of_a_run_result_with_its_trace_names_what_failed_to_load() -> None:
    trace = load_error_trace()
    result = FakeResult(
        None,
        None,
        0.64,
        None,
        None,
        5_000_000_000,
        trace.trace_id,
        FakeError(ErrorKind.LOAD, trace.error_message or ""),
        trace,
    )
    assert summary(run_summary_line(result)) == (
        "✗ abc-123 (not loaded) · load: Failed to get binary: Binary not found: abc-123"
        " · 0.64 ms · trace a06c3d92"
    )


# The summary on a terminal ------------------------------------------------------------


def summary_on(run: object, width: int, terminal: bool) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system=None)
    console.print(SummaryLine(run), soft_wrap=True)  # as `wasmcli run` prints it
    return buffer.getvalue().splitlines()


def test_a_summary_wider_than_the_terminal_breaks_only_between_fields() -> None:
    assert summary_on(out_of_fuel_trace(), 80, terminal=True) == [
        "✗ infinite_loop · out_of_fuel: Out of fuel: the plugin used all 100,000 units ·",
        "  75.7 ms · fuel 100,000 of 100,000 · trace e47b2c15",
    ]
    assert summary_on(panic_trace(), 60, terminal=True) == [
        "✗ panic ·",
        "  trap: Plugin trapped: unreachable instruction executed (a",
        "  plugin panic or abort) · 203 ms · trace c0ffee11",
    ]


def test_a_summary_that_fits_or_goes_to_a_pipe_is_one_line() -> None:
    assert summary_on(success_trace(), 80, terminal=True) == [
        "✓ hello · SUCCESS (0) · 143 ms · fuel 40 of 5,000,000,000 · trace 3f2a9c1b"
    ]
    lines = summary_on(out_of_fuel_trace(), 60, terminal=False)  # scripts read one line
    assert lines == [summary(run_summary_line(out_of_fuel_trace()))]


# Shared formatting helpers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("us", "shown"),
    [
        (None, "—"),
        (0, "0 µs"),
        (84, "84 µs"),
        (840, "0.84 ms"),
        (2_310, "2.31 ms"),
        (12_345, "12.3 ms"),
        (123_456, "123 ms"),
        (1_230_000, "1.23 s"),
        (12_300_000, "12.3 s"),
        (125_000_000, "2m05s"),
        (-840, "-0.84 ms"),
    ],
)
def test_format_duration(us: int | None, shown: str) -> None:
    assert format_duration(us) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (64 * 1024 * 1024, "64.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_format_bytes(count: int | None, shown: str) -> None:
    assert format_bytes(count) == shown


def test_fuel_and_millisecond_columns() -> None:
    assert format_fuel(5_000_000_000) == "5,000,000,000"
    assert format_fuel_usage(1234, 5_000_000_000) == "1,234 of 5,000,000,000 (0.00%)"
    assert format_fuel_usage(100_000, 100_000) == "100,000 of 100,000 (100.00%)"
    assert format_fuel_usage(31, None) == "31"
    assert format_fuel_usage(None, None) == "—"
    assert format_ms(412) == "0.412" and format_ms(5_000_913) == "5,000.913"
    assert format_offset(412) == "+0.412 ms" and format_delta(105) == "+0.105"
    assert format_return_code(-5) == "-5 ERROR_PARSE_ERROR"
    assert format_return_code(7) == "unknown code 7" and format_return_code(None) == "—"


def test_text_helpers() -> None:
    assert one_line("a\tb\r\nc\nd\x1b[0m\x07") == "a b↵c↵d\\x1b[0m\\x07"
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert short_id("3f2a9c1b-5d6e") == "3f2a9c1b" and short_id(None) == "—"
