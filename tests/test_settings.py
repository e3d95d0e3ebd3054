"""Settings as the README promises them: an option wins over its variable, a variable over
the default, every number has a documented range, and the defaults are where it says."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmcli.config import BOUNDS, ENV_VARS

from .conftest import SAMPLES, plugin_wat
from .test_subprocess import wasmcli_exe

HELLO = str(SAMPLES / "hello.wasm")


def effective(cli, *args: str) -> dict[str, object]:
    """What a run of hello actually used: its --json result and its ExecutionStart."""
    result = cli("run", HELLO, "-i", "x", "--json", *args)
    assert result.exit_code == 0, result
    data = result.json()
    start = cli("traces", "show", "--last", "--json").json()["events"][0]["metadata"]
    return {**start, "fuel_limit": data["fuel_limit"], "engine": data["engine"]}


# (variable, its value, the option that overrides it, setting in the trace, values expected
# from the option, from the variable, and by default)
OVERRIDES = [
    ("WASMCLI_TIMEOUT_MS", "7000", ["--timeout-ms", "3000"], "timeout_ms", 3000, 7000, 5000),
    (
        "WASMCLI_MEMORY_LIMIT_MB",
        "32",
        ["--memory-limit-mb", "16"],
        "memory_limit_mb",
        16,
        32,
        64,
    ),
    ("WASMCLI_FUEL", "777777", ["--fuel", "888888"], "fuel_limit", 888888, 777777, 5 * 10**9),
    ("WASMCLI_MAX_OUTPUT", "2K", ["--max-output", "3K"], "max_output", 3072, 2048, 1048576),
    (
        "WASMCLI_MAX_CALL_DEPTH",
        "500",
        ["--max-call-depth", "200"],
        "max_call_depth",
        200,
        500,
        1000,
    ),
]


@pytest.mark.parametrize(
    ("variable", "value", "option", "setting", "from_option", "from_variable", "default"),
    OVERRIDES,
    ids=[row[0] for row in OVERRIDES],
)
def test_options_win_over_variables_and_variables_over_defaults(
    cli, monkeypatch, variable, value, option, setting, from_option, from_variable, default
) -> None:
    assert effective(cli)[setting] == default
    monkeypatch.setenv(variable, " ")  # set to nothing: as if unset (README)
    assert effective(cli)[setting] == default
    monkeypatch.setenv(variable, value)
    assert effective(cli)[setting] == from_variable
    assert effective(cli, *option)[setting] == from_option
    # An option makes its variable irrelevant, even a variable that would be refused.
    monkeypatch.setenv(variable, "not a number")
    assert effective(cli, *option)[setting] == from_option
    assert cli("run", HELLO, "-i", "x").exit_code == 2


def test_engine_option_wins_over_its_variable(cli, engine: str, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_ENGINE", "v8")  # refused if it were read
    assert effective(cli, "--engine", engine)["engine"] == engine
    other = "wasmer" if engine == "wasmtime" else "wasmtime"
    monkeypatch.setenv("WASMCLI_ENGINE", other)
    assert effective(cli, "--engine", engine)["engine"] == engine


def test_engine_variable_decides_when_no_option_is_given(cli, engine: str, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_ENGINE", engine)
    assert effective(cli)["engine"] == engine
    # A value it cannot use is refused, never ignored for the default.
    monkeypatch.setenv("WASMCLI_ENGINE", "v8")
    refused = cli("run", HELLO, "-i", "x")
    assert refused.exit_code == 2
    assert refused.stderr == "error: unknown engine 'v8': choose one of auto, wasmtime, wasmer\n"


def test_engine_auto_picks_wasmer_where_it_imports(cli, monkeypatch) -> None:
    from wasmcli.engines import wasmer_unavailable_reason

    expected = "wasmer" if wasmer_unavailable_reason() is None else "wasmtime"
    assert effective(cli, "--engine", "auto")["engine"] == expected
    monkeypatch.delenv("WASMCLI_ENGINE")
    assert effective(cli)["engine"] == expected  # auto is the default
    monkeypatch.setenv("WASMCLI_ENGINE", "auto")
    assert effective(cli)["engine"] == expected


def test_trace_options_win_over_wasmcli_trace(cli, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_TRACE", "0")
    shown = cli("run", HELLO, "-i", "x", "--trace")
    assert "ExecutionStart" in shown.stderr  # the timeline, though nothing is stored
    assert cli("traces", "list", "--json").json() == []
    monkeypatch.setenv("WASMCLI_TRACE", "1")
    cli("run", HELLO, "-i", "x", "--no-trace")
    assert cli("traces", "list", "--json").json() == []
    cli("run", HELLO, "-i", "x")
    assert len(cli("traces", "list", "--json").json()) == 1


def test_max_traces_variable_wins_over_the_default(cli, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_MAX_TRACES", "3")
    for n in range(5):
        cli("run", HELLO, "-i", f"run {n}", "--quiet")
    kept = cli("traces", "list", "--json").json()
    assert len(kept) == 3


@pytest.mark.parametrize("off", ["0", "false", "No", " OFF "])
def test_wasmcli_trace_off_in_any_spelling_stores_nothing(cli, monkeypatch, off: str) -> None:
    monkeypatch.setenv("WASMCLI_TRACE", off)
    assert cli("run", HELLO, "-i", "x").exit_code == 0
    assert cli("traces", "list", "--json").json() == []


@pytest.mark.parametrize("on", ["1", "yes", "true", ""])
def test_wasmcli_trace_on_or_empty_stores_the_trace(cli, monkeypatch, on: str) -> None:
    monkeypatch.setenv("WASMCLI_TRACE", on)
    assert cli("run", HELLO, "-i", "x").exit_code == 0
    assert len(cli("traces", "list", "--json").json()) == 1


def test_max_traces_zero_keeps_none(cli, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_MAX_TRACES", "0")
    result = cli("run", HELLO, "-i", "x", "--json")
    assert result.exit_code == 0 and result.json()["trace_id"] is None
    assert cli("traces", "list", "--json").json() == []
    monkeypatch.setenv("WASMCLI_MAX_TRACES", "")  # empty: the default, 100
    cli("run", HELLO, "-i", "x")
    assert len(cli("traces", "list", "--json").json()) == 1


@pytest.mark.parametrize(
    ("size", "size_bytes"),
    [
        ("4096", 4096),
        ("512b", 512),
        ("64K", 65536),
        ("2KiB", 2048),
        ("3kb", 3072),
        ("1MB", 2**20),
        (" 2 mib ", 2 * 2**20),
        ("1G", 2**30),
    ],
)
def test_sizes_take_the_documented_suffixes(cli, monkeypatch, size: str, size_bytes: int) -> None:
    assert effective(cli, "--max-output", size)["max_output"] == size_bytes
    monkeypatch.setenv("WASMCLI_MAX_OUTPUT", size)
    assert effective(cli)["max_output"] == size_bytes


def test_inspect_memory_limit_option_wins_over_its_variable(any_engine_cli, monkeypatch) -> None:
    monkeypatch.setenv("WASMCLI_MEMORY_LIMIT_MB", "32")
    report = any_engine_cli("inspect", HELLO, "--json").json()
    assert report["abi"]["memory_limit_bytes"] == 32 * 2**20
    report = any_engine_cli("inspect", HELLO, "--memory-limit-mb", "8", "--json").json()
    assert report["abi"]["memory_limit_bytes"] == 8 * 2**20


def test_every_variable_is_in_the_table_and_tested_here() -> None:
    tested = {row[0] for row in OVERRIDES} | {
        "WASMCLI_HOME",  # test_shell_contract.py::test_home_after_the_command_name
        "WASMCLI_ENGINE",
        "WASMCLI_MAX_TRACES",
        "WASMCLI_MAX_TRACE_BYTES",  # test_trace_storage.py::test_max_trace_bytes_variable_...
        "WASMCLI_TRACE",
        "WASMCLI_DAEMON",  # test_daemon_lifecycle.py::test_wasmcli_daemon_chooses_the_path
        "NO_COLOR",  # not an override: no option
    }
    assert set(ENV_VARS) == tested


# -- ranges -------------------------------------------------------------------------


def test_every_number_is_accepted_up_to_its_maximum(cli) -> None:
    at_most = [
        "--fuel", str(2**63 - 1),
        "--timeout-ms", "86400000",
        "--memory-limit-mb", "4096",
        "--max-output", "1G",
        "--max-call-depth", "1000000",
        "--seed", str(2**63 - 1),
        "--timestamp", str(2**63 - 1),
    ]  # fmt: skip
    data = cli("run", HELLO, "-i", "x", "--json", *at_most).json()
    assert data["success"] is True and data["fuel_limit"] == 2**63 - 1
    start = cli("traces", "show", "--last", "--json").json()["events"][0]["metadata"]
    assert start["random_seed"] == 2**63 - 1 and start["timestamp"] == 2**63 - 1
    lowest = cli("run", HELLO, "-i", "x", "--seed", str(-(2**63)), "--timestamp", "0")
    assert lowest.exit_code == 0
    assert cli("traces", "list", "--limit", str(2**63 - 1)).exit_code == 0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WASMCLI_FUEL", str(2**63)),
        ("WASMCLI_TIMEOUT_MS", "86400001"),
        ("WASMCLI_MEMORY_LIMIT_MB", "4097"),
        ("WASMCLI_MAX_OUTPUT", "1025M"),
        ("WASMCLI_MAX_TRACES", str(2**63)),
        ("WASMCLI_FUEL", "0"),
        ("WASMCLI_MAX_TRACES", "-1"),
        ("WASMCLI_MAX_CALL_DEPTH", "0"),
        ("WASMCLI_MAX_CALL_DEPTH", "1000001"),
    ],
)
def test_variables_out_of_range_are_usage_errors(
    any_engine_cli, monkeypatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = any_engine_cli("run", HELLO, "-i", "x")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {variable} must be at ")
    assert len(result.stderr.splitlines()) == 1
    monkeypatch.delenv(variable)
    assert any_engine_cli("traces", "list", "--json").json() == []  # and not a run


def test_limit_out_of_range_is_a_usage_error(any_engine_cli) -> None:
    for value in (str(2**63), "-1"):
        result = any_engine_cli("traces", "list", "--limit", value)
        assert result.exit_code == 2 and result.stderr.startswith("error: --limit must be at")


def test_readme_documents_every_range() -> None:
    from wasmcli.config import parse_size

    from .test_docs import table_rows

    rows = {row[0]: row for row in table_rows("### Ranges")}
    assert set(rows) == {bound.names for bound in BOUNDS.values()}
    for bound in BOUNDS.values():
        _, minimum, maximum = rows[bound.names]
        assert int(minimum) == bound.minimum, bound.names
        assert parse_size(maximum.split()[0], "") == bound.maximum, bound.names


# -- where things go ----------------------------------------------------------------


def run_without_home(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WASMCLI_", "XDG_"))}
    return subprocess.run(
        [wasmcli_exe(), *args], env={**base, **env}, capture_output=True, timeout=60
    )


def test_default_home_is_xdg_data_home_then_local_share(tmp_path: Path) -> None:
    xdg = tmp_path / "xdg"
    done = run_without_home({"XDG_DATA_HOME": str(xdg), "HOME": str(tmp_path)}, "register", HELLO)
    assert done.returncode == 0, done.stderr
    assert (xdg / "wasmcli" / "wasmcli.db").exists()
    done = run_without_home({"HOME": str(tmp_path / "user")}, "register", HELLO)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "user" / ".local" / "share" / "wasmcli" / "wasmcli.db").exists()
    # and WASMCLI_HOME wins over both
    done = run_without_home(
        {"WASMCLI_HOME": str(tmp_path / "mine"), "XDG_DATA_HOME": str(xdg)}, "list", "--json"
    )
    assert json.loads(done.stdout) == [] and (tmp_path / "mine" / "wasmcli.db").exists()


def test_export_output_dash_is_stdout(cli, tmp_path: Path, monkeypatch) -> None:
    cli("run", HELLO, "-i", "x")
    monkeypatch.chdir(tmp_path)
    result = cli("traces", "export", "--output", "-", "--format", "jsonl")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["binary_name"] == "hello"
    assert result.stdout == cli("traces", "export", "--format", "jsonl").stdout
    assert not (tmp_path / "-").exists()


def answer_the_clear_prompt(home: Path, answer: bytes) -> subprocess.CompletedProcess[bytes]:
    """`wasmcli traces clear` at a terminal: stdin is a pseudo-terminal; type `answer`."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer)
        return subprocess.run(
            [wasmcli_exe(), "traces", "clear"],
            stdin=terminal,
            capture_output=True,
            timeout=60,
            env={**os.environ, "WASMCLI_HOME": str(home)},
        )
    finally:
        os.close(terminal)
        os.close(controller)


def test_clear_asks_at_a_terminal_and_does_what_it_is_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "WASMCLI_HOME": str(home)}
    for n in range(2):
        subprocess.run([wasmcli_exe(), "run", HELLO, "-i", str(n)], env=env, check=True)
    count = ["traces", "list", "--json"]

    declined = answer_the_clear_prompt(home, b"n\n")
    assert declined.returncode == 0
    assert declined.stdout == b""  # the question is a diagnostic, not data
    assert declined.stderr == b"Delete 2 traces? [y/N]: Nothing deleted.\n"
    listed = subprocess.run([wasmcli_exe(), *count], env=env, capture_output=True)
    assert len(json.loads(listed.stdout)) == 2

    accepted = answer_the_clear_prompt(home, b"y\n")
    assert accepted.returncode == 0
    assert accepted.stderr == b"Delete 2 traces? [y/N]: Deleted 2 traces.\n"
    listed = subprocess.run([wasmcli_exe(), *count], env=env, capture_output=True)
    assert json.loads(listed.stdout) == []


def test_a_usage_error_found_during_a_run_is_not_a_run(cli, monkeypatch) -> None:
    from wasmcli.errors import ErrorKind, WasmcliError
    from wasmcli.store.registry import Registry

    def ambiguous(self: Registry, ref: str) -> None:
        raise WasmcliError(ErrorKind.USAGE, f"ambiguous id prefix {ref!r}: 1234abcd, 1234ef01")

    monkeypatch.setattr(Registry, "resolve", ambiguous)
    result = cli("run", "1234", "-i", "x")
    assert result.exit_code == 2
    assert result.stderr == "error: ambiguous id prefix '1234': 1234abcd, 1234ef01\n"
    assert result.stdout == ""
    assert cli("traces", "list", "--json").json() == []


def test_quiet_hides_the_summary_but_never_an_error(cli, wat_file) -> None:
    ok = cli("run", HELLO, "-i", "x", "--quiet")
    assert ok.exit_code == 0 and ok.stdout == "Hello, x!\n" and ok.stderr == ""
    trap = cli("run", str(wat_file(plugin_wat("unreachable"))), "--quiet")
    assert trap.exit_code == 8
    assert trap.stderr.startswith("✗ plugin · trap: ") and len(trap.stderr.splitlines()) == 1
    usage = cli("run", HELLO, "--quiet", "--fuel", "0")
    assert usage.exit_code == 2 and usage.stderr.startswith("error: --fuel must be at least 1")


TEN_BYTE_LINES = plugin_wat(
    """
    (local $i i32)
    (loop $again
      (call $log (i32.const 0) (i32.const 10))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 5))))
    (i32.const 0)""",
    extra='(data (i32.const 0) "0123456789")',
)


def test_lines_before_the_output_cap_are_printed(cli, wat_file: Callable[..., Path]) -> None:
    plugin = str(wat_file(TEN_BYTE_LINES))
    result = cli("run", plugin, "--max-output", "25")  # 10 + 1 + 10 fit; a third does not
    assert result.exit_code == 9
    assert result.stdout == "0123456789\n0123456789\n"
    assert "Output exceeds the limit of 25 bytes (log line 3)" in result.stderr
    as_json = cli("run", plugin, "--max-output", "25", "--json")
    assert as_json.exit_code == 9
    assert len(as_json.stdout.splitlines()) == 1  # only the JSON on stdout
    assert as_json.json()["output"] == "0123456789\n0123456789"


def test_an_invocation_leaves_no_options_behind(any_engine_cli, tmp_path: Path) -> None:
    # One process, many invocations (as the tests here, or a daemon): --home is per
    # invocation (typer's ctx.obj), never left in a module for the next one.
    other = tmp_path / "other"
    assert any_engine_cli("register", HELLO, "--home", str(other)).exit_code == 0
    assert any_engine_cli("list", "--json").json() == []
    assert len(any_engine_cli("--home", str(other), "list", "--json").json()) == 1
    assert any_engine_cli("list", "--json").json() == []


def test_a_whole_number_in_a_variable_may_group_its_digits(monkeypatch) -> None:
    # As Python and shells write big numbers: WASMCLI_FUEL=5_000_000.
    from wasmcli.config import RunConfig

    monkeypatch.setenv("WASMCLI_FUEL", "5_000_000")
    monkeypatch.setenv("WASMCLI_TIMEOUT_MS", "2_000")
    config = RunConfig.from_env()
    assert (config.fuel, config.timeout_ms) == (5_000_000, 2_000)
