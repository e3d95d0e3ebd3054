"""`wasmcli run`, `register`, `list`, `inspect`, `remove`, `codes` from a user's side."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from .conftest import ECHO_WAT, SAMPLES, plugin_wat

HELLO = str(SAMPLES / "hello.wasm")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_run_file_prints_output_and_summary(cli) -> None:
    result = cli("run", HELLO, "--input", "world")
    assert result.exit_code == 0
    assert result.stdout == "Hello, world!\n"
    assert "hello" in result.stderr and "SUCCESS" in result.stderr


def test_quiet_prints_no_summary(cli) -> None:
    result = cli("run", HELLO, "--input", "world", "--quiet")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Hello, world!\n", "")


def test_register_then_run_by_name_and_stdin(cli) -> None:
    registered = cli("register", HELLO, "--name", "hello")
    assert registered.exit_code == 0
    binary_id = registered.stdout.strip()
    assert UUID.match(binary_id)
    assert cli("run", "hello", "--input", "world").stdout == "Hello, world!\n"
    assert cli("run", "hello", input="world").stdout == "Hello, world!\n"
    assert cli("run", binary_id[:8], "--input", "id").stdout == "Hello, id!\n"
    again = cli("register", HELLO, "--name", "hello")
    assert again.stdout.strip() == binary_id
    assert "Already registered" in again.stderr


def test_run_json_has_every_field(cli, engine: str) -> None:
    cli("register", HELLO, "--name", "hello")
    result = cli("run", "hello", "--input", "world", "--json")
    data = result.json()
    assert set(data) >= {
        "output",
        "return_code",
        "return_code_name",
        "fuel_consumed",
        "duration_ms",
        "trace_id",
        "binary_id",
        "engine",
        "success",
        "error",
    }
    assert data["output"] == "Hello, world!"
    assert (data["return_code"], data["return_code_name"], data["success"]) == (0, "SUCCESS", True)
    assert data["error"] is None and data["engine"] == engine
    assert data["fuel_consumed"] > 0 and UUID.match(data["trace_id"])


def test_plugin_error_code_is_decoded_and_exits_1(cli, wat_file) -> None:
    path = wat_file(plugin_wat("i32.const -5"))
    result = cli("run", str(path), "--json")
    assert result.exit_code == 1
    data = result.json()
    assert (data["return_code"], data["return_code_name"]) == (-5, "ERROR_PARSE_ERROR")
    assert data["error"]["kind"] == "plugin_error"
    assert "ERROR_PARSE_ERROR (-5)" in result.stderr


def test_unknown_return_code_is_shown_as_such(cli, wat_file) -> None:
    result = cli("run", str(wat_file(plugin_wat("i32.const 7"))), "--json")
    assert result.json()["return_code_name"] == "unknown code 7"
    assert result.exit_code == 1


def test_env_seed_and_timestamp_reach_the_plugin(cli, wat_file) -> None:
    # Logs the env JSON it receives.
    path = wat_file(plugin_wat("(call $log (local.get $env) (local.get $env_len)) (i32.const 0)"))
    result = cli(
        "run",
        str(path),
        "--seed",
        "42",
        "--timestamp",
        "1700000000000000000",
        "--env",
        "name=ada",
        "--env",
        "mode=a=b",
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "timestamp": 1700000000000000000,
        "random_seed": 42,
        "name": "ada",
        "mode": "a=b",
    }


def test_input_placement_uses_alloc_when_exported(cli, wat_file) -> None:
    # alloc hands out 1024 and then 2048; process logs its input pointer as a number.
    source = plugin_wat(
        "(call $log (local.get $in) (local.get $in_len)) (local.get $in)",
        extra="""(global $next (mut i32) (i32.const 1024))
        (func (export "alloc") (param i32) (result i32)
          (global.get $next) (global.set $next (i32.add (global.get $next) (i32.const 1024))))""",
    )
    data = cli("run", str(wat_file(source)), "--input", "abc", "--json").json()
    assert data["output"] == "abc" and data["return_code"] == 1024


def test_input_placement_in_fresh_pages_and_offset_0(cli, wat_file) -> None:
    echo_ptr = plugin_wat("(call $log (local.get $in) (local.get $in_len)) (local.get $in)")
    grows = cli("run", str(wat_file(echo_ptr, "grows")), "--input", "abc", "--json").json()
    assert grows["output"] == "abc" and grows["return_code"] == 65536  # the fresh page
    fixed = plugin_wat(
        "(call $log (local.get $in) (local.get $in_len)) (local.get $in)",
        memory='(memory (export "memory") 1 1)',
    )
    data = cli("run", str(wat_file(fixed, "fixed")), "--input", "abc", "--json").json()
    assert data["output"] == "abc" and data["return_code"] == 0  # offset 0 layout


def test_output_lines_are_joined_with_newlines(cli, wat_file) -> None:
    source = plugin_wat(
        "(call $log (i32.const 0) (i32.const 3)) (call $log (i32.const 3) (i32.const 0))"
        " (call $log (i32.const 3) (i32.const 2)) (i32.const 0)",
        extra='(data (i32.const 0) "onetw")',
    )
    result = cli("run", str(wat_file(source)), "--json")
    assert result.json()["output"] == "one\n\ntw"


def test_max_output_option(cli, wat_file) -> None:
    result = cli("run", str(wat_file(ECHO_WAT)), "--input", "x" * 100, "--max-output", "64")
    assert result.exit_code == 9
    assert "Output exceeds the limit of 64 bytes" in result.stderr


def test_contradictory_and_bad_options_are_usage_errors(cli) -> None:
    cases = [
        (["run", HELLO, "--input", "a", "--input-file", "b"], "--input and --input-file"),
        (["run", HELLO, "--trace", "--no-trace"], "--trace and --no-trace"),
        (["run", HELLO, "--timeout-ms", "0"], "--timeout-ms must be at least 1"),
        (["run", HELLO, "--env", "novalue"], "invalid --env 'novalue'"),
        (["run", HELLO, "--env", "timestamp=1"], "reserved"),
        (["run", HELLO, "--max-output", "lots"], "invalid --max-output"),
        (["run", HELLO, "--engine", "v8"], "unknown engine 'v8'"),
        (["run", HELLO, "--bogus"], "no such option"),
        (["frobnicate"], "no such command"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 2, (args, result)
        assert message in result.stderr, (args, result.stderr)


def test_env_var_defaults_apply(cli, wat_file, monkeypatch) -> None:
    loop = plugin_wat("(loop $l (br $l)) (i32.const 0)")
    monkeypatch.setenv("WASMCLI_FUEL", "5000")
    data = cli("run", str(wat_file(loop)), "--json").json()
    assert data["error"]["kind"] == "out_of_fuel" and data["fuel_limit"] == 5000
    monkeypatch.setenv("WASMCLI_TIMEOUT_MS", "abc")
    assert cli("run", HELLO).exit_code == 2


def test_fuel_default_is_derived_from_timeout(cli) -> None:
    data = cli("run", HELLO, "--input", "x", "--timeout-ms", "1234", "--json").json()
    assert data["fuel_limit"] == 1234 * 1_000_000


def test_list_inspect_remove(cli) -> None:
    binary_id = cli("register", HELLO, "--name", "hello").stdout.strip()
    listing = cli("list", "--json").json()
    assert [(b["id"], b["name"]) for b in listing] == [(binary_id, "hello")]
    assert "hello" in cli("list").stdout

    report = cli("inspect", "hello", "--json").json()
    assert report["abi"]["ok"] is True
    exports = {e["name"]: e for e in report["exports"]}
    assert exports["process"]["signature"] == "(i32, i32, i32, i32) -> (i32)"
    assert report["imports"] == [
        {"module": "host", "name": "log", "kind": "func", "signature": "(i32, i32) -> ()"}
    ]
    assert report["memories"][0]["min_pages"] == 1
    text = cli("inspect", "hello").stdout
    assert "ABI check: ok" in text and "process" in text

    removed = cli("remove", "hello")
    assert removed.exit_code == 0 and binary_id in removed.stderr
    assert cli("list", "--json").json() == []
    assert cli("run", "hello").exit_code == 3


def test_inspect_reports_abi_problems_with_exit_code(cli, wat_file) -> None:
    path = wat_file('(module (import "env" "f" (func)) (memory (export "memory") 1))')
    result = cli("inspect", str(path), "--json")
    assert result.exit_code == 4
    problems = [p["message"] for p in result.json()["abi"]["problems"]]
    assert any("import `env::f` not found" in p for p in problems)
    assert any("does not export `process`" in p for p in problems)


def test_register_refuses_non_plugins_unless_told(cli, wat_file) -> None:
    path = wat_file('(module (memory (export "memory") 1))', "notplugin")
    refused = cli("register", str(path))
    assert refused.exit_code == 4 and "--no-check" in refused.stderr
    assert cli("register", str(path), "--no-check").exit_code == 0


def test_register_rejects_bad_names_and_files(cli, tmp_path: Path) -> None:
    assert cli("register", HELLO, "--name", "bad/name").exit_code == 2
    garbage = tmp_path / "g.wasm"
    garbage.write_bytes(b"nope")
    assert cli("register", str(garbage)).exit_code == 3


def test_codes_lists_both_tables(cli) -> None:
    data = cli("codes", "--json").json()
    assert {
        "code": -6,
        "name": "ERROR_ENV_PARSING",
        "meaning": "the env JSON could not be parsed",
    } in data["return_codes"]
    assert {e["kind"]: e["exit"] for e in data["exit_codes"]}["memory_limit"] == 7
    assert "ERROR_BUFFER_OVERFLOW" in cli("codes").stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["run"],
        ["register"],
        ["list"],
        ["inspect"],
        ["remove"],
        ["codes"],
        ["doctor"],
        ["traces"],
        ["traces", "list"],
        ["traces", "show"],
        ["traces", "export"],
        ["traces", "clear"],
        ["traces", "stats"],
        ["traces", "diff"],
        ["alerts"],
        ["alerts", "check"],
        ["alerts", "list"],
        ["dashboard"],
    ],
)
def test_every_command_has_help(cli, args: list[str]) -> None:
    result = cli(*args, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout


def test_version(cli) -> None:
    from wasmcli import __version__

    assert cli("--version").stdout.strip() == f"wasmcli {__version__}"


def _fuel_checkpoints(cli) -> list[tuple[str, dict[str, object]]]:
    trace = cli("traces", "show", "--last", "--json").json()
    return [
        (event["message"], event["metadata"])
        for event in trace["events"]
        if event["event_type"] == "FuelCheckpoint"
    ]


def test_a_trap_closes_its_trace_with_fuel_unknown(cli) -> None:
    # After a trap of the plugin's own, neither engine can tell the fuel used so far.
    assert cli("run", str(SAMPLES / "faulty" / "divide_by_zero.wasm"), "--fuel", "100000")
    assert _fuel_checkpoints(cli) == [
        ("Fuel limit set", {"fuel_limit": 100000}),
        (
            "Fuel consumed: unknown (the plugin was stopped mid-block)",
            {"fuel_limit": 100000, "fuel_consumed": None, "fuel_remaining": None},
        ),
    ]


def test_a_profiled_run_records_its_profile_last(cli) -> None:
    assert cli("run", HELLO, "--input", "x", "--profile").exit_code == 0
    checkpoints = _fuel_checkpoints(cli)
    assert [message for message, _ in checkpoints] == [
        "Fuel limit set",
        "Fuel consumed",
        "Fuel profile",
    ]
    limit = checkpoints[0][1]["fuel_limit"]
    assert isinstance(limit, int)
    assert checkpoints[1][1] == {
        "fuel_limit": limit,
        "fuel_consumed": 36,
        "fuel_remaining": limit - 36,
    }
    profile = checkpoints[-1][1]["profile"]
    assert isinstance(profile, dict)
    assert (profile["outcome"], profile["fuel_consumed"]) == ("completed", 36)


def test_a_profiled_run_out_of_fuel_profiles_the_fuel_it_had(cli) -> None:
    loop = str(SAMPLES / "faulty" / "infinite_loop.wasm")
    assert cli("run", loop, "--fuel", "50000", "--profile").exit_code == 6
    profile = _fuel_checkpoints(cli)[-1][1]["profile"]
    assert isinstance(profile, dict)
    assert (profile["outcome"], profile["fuel_consumed"]) == ("out_of_fuel", 50000)


# alloc answers 1024 to its first call and 0 (no buffer) to the next: FIRST_CALLS_OK 1
# fails the env, 0 the input.
def _alloc_failing_after(first_calls_ok: int) -> str:
    return plugin_wat(
        "(i32.const 0)",
        extra=(
            "(global $calls (mut i32) (i32.const 0))"
            ' (func (export "alloc") (param i32) (result i32)'
            " (global.set $calls (i32.add (global.get $calls) (i32.const 1)))"
            f" (if (result i32) (i32.le_u (global.get $calls) (i32.const {first_calls_ok}))"
            " (then (i32.const 1024)) (else (i32.const 0))))"
        ),
    )


@pytest.mark.parametrize(("first_calls_ok", "what", "size"), [(0, "input", 2), (1, "env", None)])
def test_an_alloc_that_gives_no_buffer_is_an_abi_failure_naming_what_it_was_for(
    cli, wat_file, first_calls_ok: int, what: str, size
) -> None:
    result = cli("run", str(wat_file(_alloc_failing_after(first_calls_ok))), "-i", "xy", "--json")
    assert result.exit_code == 4
    error = result.json()["error"]
    assert error["stage"] == "write_input"
    assert re.fullmatch(
        rf"`alloc\((\d+)\)` for the {what} returned 0, which is not a usable buffer in "
        r"the plugin's memory \(1 pages\)",
        error["message"],
    ), error["message"]
    if size is not None:
        assert error["message"].startswith(f"`alloc({size})`")


# Grows its memory a page at a time until it cannot, then ends as TAIL says.
def _fill_memory_then(tail: str) -> str:
    return plugin_wat(
        "(block (loop (br_if 1 (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))"
        f" (br 0))) {tail}"
    )


def test_a_trap_at_the_memory_limit_says_the_plugin_probably_ran_out(cli, wat_file) -> None:
    hint = (
        " (memory was at the 1 MB limit: the plugin probably ran out of memory; see "
        "--memory-limit-mb)"
    )
    trapped = cli(
        "run", str(wat_file(_fill_memory_then("unreachable"))), "--memory-limit-mb", "1", "--json"
    )
    assert trapped.json()["error"]["kind"] == "trap"
    assert trapped.json()["error"]["message"].endswith(hint)
    # Not for a trap below the limit, nor for a plugin's own error code at it.
    early = cli("run", str(wat_file(plugin_wat("unreachable"))), "--memory-limit-mb", "1", "--json")
    assert early.json()["error"]["kind"] == "trap"
    assert "probably ran out of memory" not in early.json()["error"]["message"]
    refused = cli(
        "run",
        str(wat_file(_fill_memory_then("(i32.const -4)"))),
        "--memory-limit-mb",
        "1",
        "--json",
    )
    assert refused.json()["error"]["message"] == "Plugin returned ERROR_MEMORY_ALLOCATION (-4)"


def test_a_runs_events_say_where_its_input_and_env_went(cli) -> None:
    assert cli("run", HELLO, "--input", "xy", "--memory-limit-mb", "2").exit_code == 0
    events = cli("traces", "show", "--last", "--json").json()["events"]
    by_message = {event["message"]: event["metadata"] for event in events}
    assert by_message["Memory size checked"] == {
        "operation": "size_check",
        "memory_pages": by_message["Module instantiated"]["memory_pages"],
        "memory_max_pages": 32,  # hello declares no maximum: the limit's
        "memory_limit_pages": 32,
    }
    written_input, written_env = by_message["Input written"], by_message["Env written"]
    assert written_input["bytes"] == 2
    assert by_message["Calling process"] == {
        "function": "process",
        "input_ptr": written_input["ptr"],
        "input_len": 2,
        "env_ptr": written_env["ptr"],
        "env_len": written_env["bytes"],
    }


def test_a_runs_load_events_carry_what_was_loaded(cli, engine: str) -> None:
    data = Path(HELLO).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    for from_cache in (False, True):  # the second run finds the compiled module
        assert cli("run", HELLO, "--input", "x", "--fuel", "7000").exit_code == 0
        events = cli("traces", "show", "--last", "--json").json()["events"]
        steps = {e["metadata"].get("step"): e for e in events if e["event_type"] == "LoadComplete"}
        started = steps["engine_start"]
        assert started["message"] == "Engine started"
        assert started["metadata"]["engine"] == engine
        assert isinstance(started["metadata"]["engine_version"], str)
        assert isinstance(started["metadata"]["duration_ms"], float)
        module = steps["module"]
        assert module["message"] == (
            "Module loaded from cache" if from_cache else "Module compiled"
        )
        assert (module["metadata"]["size_bytes"], module["metadata"]["sha256"]) == (
            len(data),
            digest,
        )
        assert module["metadata"]["from_cache"] is from_cache
        by_message = {e["message"]: e["metadata"] for e in events}
        assert by_message["Fuel limit set"] == {"fuel_limit": 7000}
        assert by_message["Registered host.log"] == {"function": "host.log"}
        assert by_message["Module instantiated"] == {"function": "instantiate", "memory_pages": 1}


def test_a_failure_names_the_step_it_happened_in(cli, wat_file, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"\0asm\x01\0\0\0\xff")
    assert cli("run", str(garbage), "--json").json()["error"]["stage"] == "load"
    no_process = wat_file('(module (memory (export "memory") 1))')
    assert cli("run", str(no_process), "--json").json()["error"]["stage"] == "abi_check"
