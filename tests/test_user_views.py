"""What a person at a terminal reads, through the CLI: timelines and summaries at 80 and
120 columns, folded floods, event filters, error panels, one table style, and text from
a hostile module that must not reach the terminal raw."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLES, CliResult
from .terminal import run_in_terminal

HELLO = str(SAMPLES / "hello.wasm")
CHATTY = str(REPO / "tests" / "plugins" / "chatty.wat")
TRICKY = str(REPO / "tests" / "plugins" / "tricky_logs.wat")
JSON_FIELDS = str(SAMPLES / "json_fields.wasm")
LOOP = str(SAMPLES / "faulty" / "infinite_loop.wasm")
TRACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# Widths, in a real terminal ----------------------------------------------------------


@pytest.mark.parametrize("columns", [80, 120])
def test_a_failed_runs_summary_breaks_only_between_fields(columns: int) -> None:
    run = run_in_terminal("run", LOOP, "--fuel", "100000", columns=columns)
    assert run.exit_code == 6
    lines = [line for line in run.lines if line]
    assert all(len(line) <= columns for line in lines)
    text = " ".join(line.strip() for line in lines)
    assert re.search(r"· trace [0-9a-f]{8}$", text)  # the trace id whole, at the end
    assert "Out of fuel: the plugin used all 100,000 units" in text
    assert "fuel 100,000 of 100,000" in text
    for line in lines[:-1]:
        assert line.endswith(" ·"), lines  # each break falls between two fields


def test_a_summary_read_by_a_script_is_one_line(any_engine_cli: Callable[..., CliResult]) -> None:
    result = any_engine_cli("run", LOOP, "--fuel", "100000")
    assert result.exit_code == 6
    assert len(result.stderr.splitlines()) == 1  # COLUMNS is 120, the line is longer


@pytest.mark.parametrize("columns", [80, 120])
def test_a_timeline_on_a_terminal_fits_it_and_keeps_every_detail(columns: int) -> None:
    run = run_in_terminal("run", LOOP, "--timeout-ms", "300", "--fuel", "10" + "0" * 12,
                          "--trace", columns=columns)  # fmt: skip
    assert run.exit_code == 5
    assert all(len(line) <= columns for line in run.lines)
    flat = re.sub(r"\s+", "", run.text)
    for whole in (
        "timeout300ms",  # the limits on ExecutionStart
        "fuel10,000,000,000,000",
        "memory64MiB",
        "Fuelconsumed:unknown(thepluginwasstoppedmid-block)",  # why fuel is unknown
        "Executiontimeout",
        "Raisethelimitwith--timeout-ms.",
    ):
        assert whole in flat, whole
    assert re.search(r"│ limit +300 ms", run.text)  # the timeout panel gives the limit


@pytest.mark.parametrize("columns", [80, 120])
def test_traces_list_keeps_duration_fuel_and_engine(
    columns: int, any_engine_cli: Callable[..., CliResult]
) -> None:
    any_engine_cli("run", LOOP, "--fuel", "100000")  # a long binary name, 6-digit fuel
    any_engine_cli("run", JSON_FIELDS, "--input", '{"user":"ada",}')
    run = run_in_terminal("traces", "list", columns=columns)
    assert run.exit_code == 0
    header = run.lines[0].split()
    assert {"engine", "duration", "fuel"} <= set(header), run.text
    assert all(len(line) <= columns for line in run.lines)
    assert "100,000" in run.text and "wasmtime" in run.text or "wasmer" in run.text


# Floods and filters ------------------------------------------------------------------


def test_a_flood_of_identical_lines_folds(cli: Callable[..., CliResult]) -> None:
    assert cli("run", CHATTY).exit_code == 0
    shown = cli("traces", "show", "--last").stdout
    assert "tick × 1,000" in shown and "lines 1–1,000" in shown
    assert "4,000 more log lines left out of the trace" in shown
    assert shown.count("tick") == 1
    assert "lines left out" not in shown.replace("log lines left out of the trace", "")


def test_show_without_logs(cli: Callable[..., CliResult]) -> None:
    cli("run", CHATTY)
    shown = cli("traces", "show", "--last", "--no-logs")
    assert shown.exit_code == 0
    assert "PluginLog" not in shown.stdout and "tick" not in shown.stdout
    assert "Calling process" in shown.stdout
    assert "of 1,016 events shown" in shown.stdout
    as_json = cli("traces", "show", "--last", "--no-logs", "--json").json()
    assert isinstance(as_json, dict)
    assert {e["event_type"] for e in as_json["events"]} >= {"ExecutionStart", "FunctionCall"}
    assert all(e["event_type"] != "PluginLog" for e in as_json["events"])


def test_show_only_some_event_types(cli: Callable[..., CliResult]) -> None:
    cli("run", HELLO, "--input", "world")
    shown = cli("traces", "show", "--last", "--events", "functioncall, MemoryOp")
    assert shown.exit_code == 0
    kinds = {
        k
        for k in re.findall(r"\b([A-Z][a-zA-Z]+)\b", shown.stdout)
        if k.endswith(("Call", "Op", "Start", "Complete", "Log", "Checkpoint"))
    }
    assert kinds == {"FunctionCall", "MemoryOp"}
    assert "5 of 16 events shown" in shown.stdout
    assert cli("traces", "show", "--last", "--events", "LoadComplete", "--no-logs").exit_code == 0


def test_an_unknown_event_type_is_a_usage_error(cli: Callable[..., CliResult]) -> None:
    cli("run", HELLO)
    bad = cli("traces", "show", "--last", "--events", "FunctionCall,Bogus")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: unknown event type 'Bogus' in --events: choose from ")
    assert len(bad.stderr.splitlines()) == 1


# Panels --------------------------------------------------------------------------------


def test_plugin_error_panel_says_what_the_code_means(cli: Callable[..., CliResult]) -> None:
    result = cli("run", JSON_FIELDS, "--input", '{"user":"ada",}', "--trace")
    assert result.exit_code == 1
    panel = result.stderr[result.stderr.index("╭─ ✗ plugin_error") :]
    assert "The plugin returned ERROR_PARSE_ERROR (-5): input could not be parsed" in panel
    assert "last log  error: invalid JSON at byte 14: expected a key in double quotes" in panel
    assert panel.count("ERROR_PARSE_ERROR") == 1


def test_timeout_panel_gives_the_limit_and_the_option(cli: Callable[..., CliResult]) -> None:
    result = cli("run", LOOP, "--timeout-ms", "200", "--fuel", "10" + "0" * 12, "--trace")
    assert result.exit_code == 5
    panel = result.stderr[result.stderr.index("╭─ ✗ timeout") :]
    assert re.search(r"│ limit +200 ms", panel) and "Raise the limit with --timeout-ms." in panel


# One table style -----------------------------------------------------------------------


def test_every_table_has_the_same_header_style(
    any_engine_cli: Callable[..., CliResult],
) -> None:
    any_engine_cli("register", HELLO)
    any_engine_cli("run", "hello")
    outputs = {
        "traces list": any_engine_cli("traces", "list").stdout,
        "list": any_engine_cli("list").stdout,
        "codes": any_engine_cli("codes").stdout,
        "inspect": any_engine_cli("inspect", "hello").stdout,
        "traces show": any_engine_cli("traces", "show", "--last").stdout,
    }
    for command, text in outputs.items():
        lines = text.splitlines()
        rules = [i for i, line in enumerate(lines) if line and set(line) == {"─"}]
        assert rules, command
        for i in rules:
            header = lines[i - 1].split()
            assert header and not re.search("[A-Z]", " ".join(header)), (command, header)
        assert not any(c in text for c in "┏┃━│╇┡"), command  # no boxed tables


# Hostile text --------------------------------------------------------------------------

# An import whose name holds a newline and escape sequences, an export likewise.
HOSTILE = """(module
  (import "host\\n\\1b[2J\\1b]0;pwned\\07" "lo\\e2\\80\\aeg" (func (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "ev\\1b[31mil\\0anext") (result i32) (i32.const 1))
  (func (export "process") (param i32 i32 i32 i32) (result i32) (i32.const 0)))
"""
RAW = ("\x1b[2J", "\x1b]0;pwned", "\x1b[31m", "\u202e")


def test_register_and_inspect_show_hostile_names_escaped(
    cli: Callable[..., CliResult], wat_file: Callable[..., Path]
) -> None:
    path = str(wat_file(HOSTILE, "hostile"))
    refused = cli("register", path)
    assert refused.exit_code == 4
    assert len(refused.stderr.splitlines()) == 1  # one line, whatever the name holds
    assert "host↵\\x1b[2J\\x1b]0;pwned\\x07::lo\\u202eg" in refused.stderr
    assert not any(raw in refused.stderr for raw in RAW)

    assert cli("register", path, "--no-check", "--name", "hostile").exit_code == 0
    inspected = cli("inspect", "hostile")
    assert inspected.exit_code == 4
    assert not any(raw in inspected.stdout + inspected.stderr for raw in RAW)
    assert "ev\\x1b[31mil↵next" in inspected.stdout
    assert "host↵\\x1b[2J\\x1b]0;pwned\\x07" in inspected.stdout


def test_a_run_of_a_hostile_module_prints_one_escaped_line(
    cli: Callable[..., CliResult], wat_file: Callable[..., Path]
) -> None:
    result = cli("run", str(wat_file(HOSTILE, "hostile")))
    assert result.exit_code == 4
    assert len(result.stderr.splitlines()) == 1
    assert not any(raw in result.stderr for raw in RAW)
    shown = cli("traces", "show", "--last")
    assert not any(raw in shown.stdout for raw in RAW)


def test_plugin_log_lines_reach_stdout_unchanged_and_the_terminal_escaped() -> None:
    run = run_in_terminal("run", TRICKY, "--trace", columns=120, stdout_to_pipe=True)
    assert run.exit_code == 0
    assert "\x1b[31mred?\x1b[0m\tand a\nnewline" in run.stdout  # data: byte for byte
    assert "\u202eevil" in run.stdout
    assert "\x1b[31mred?" not in run.screen and "\u202e" not in run.screen
    assert "\\x1b[31mred?\\x1b[0m and a↵newline" in run.text
    assert "\\u202eevil\\u202c bidi and \\x9b C1" in run.text
    assert TRACE_ID.search(run.text)
