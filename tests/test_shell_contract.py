"""What scripts rely on, tested on the installed `wasmcli` as a real process: closed pipes
and streams, usage errors that are not runs, one line per failure, bugs as exit 10.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLES
from .test_subprocess import run, wasmcli_exe

HELLO = str(SAMPLES / "hello.wasm")
FAULTY = SAMPLES / "faulty"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home holding hello (registered) and one trace of it, on wasmtime."""
    home = tmp_path / "home"
    monkeypatch.setenv("WASMCLI_HOME", str(home))
    monkeypatch.setenv("WASMCLI_ENGINE", "wasmtime")
    assert run("register", HELLO, "--name", "hello").returncode == 0
    assert run("run", "hello", "-i", "x").returncode == 0
    return home


def traces(home: Path) -> list[dict[str, object]]:
    done = run("traces", "export", "--format", "json", env={"WASMCLI_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    listed: list[dict[str, object]] = json.loads(done.stdout)
    return listed


def into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`wasmcli ARGS | head -0`, without the race: the reader has gone before we write."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [wasmcli_exe(), *args], stdout=write_end, stderr=subprocess.PIPE, timeout=60
        )
    finally:
        os.close(write_end)


# Every command that writes to stdout, as a shell runs it against the `home` fixture.
OUTPUT_COMMANDS = [
    ["codes"],
    ["codes", "--json"],
    ["list"],
    ["list", "--json"],
    ["inspect", "hello"],
    ["inspect", "hello", "--json"],
    ["register", HELLO],
    ["traces", "list"],
    ["traces", "list", "--json"],
    ["traces", "show", "--last"],
    ["traces", "show", "--last", "--json"],
    ["traces", "export"],
    ["traces", "export", "--format", "chrome"],
    ["--help"],
    ["traces", "--help"],
    ["--version"],
    ["run", "hello", "-i", "x", "--json"],
]


@pytest.mark.parametrize("args", OUTPUT_COMMANDS, ids=" ".join)
def test_every_command_exits_0_quietly_when_the_reader_has_gone(home: Path, args) -> None:
    done = into_closed_pipe(*args)
    assert done.returncode == 0, done.stderr
    assert b"error" not in done.stderr and b"Exception" not in done.stderr, done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", OUTPUT_COMMANDS, ids=" ".join)
def test_every_command_whose_output_finds_no_room_is_exit_9_in_one_line(home: Path, args) -> None:
    # `> /dev/full`, or a full disk under a redirect: an I/O failure (exit 9) said in one
    # line, never an "internal error" (exit 10).
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [wasmcli_exe(), *args], stdout=full, stderr=subprocess.PIPE, timeout=60
        )
    assert done.returncode == 9, done.stderr
    last = done.stderr.decode().splitlines()[-1]
    assert "The output could not be written: No space left on device" in last
    if args[0] != "run":  # run says it in its summary line instead
        assert done.stderr.decode() == (
            "error: The output could not be written: No space left on device\n"
        )


def test_a_run_into_a_closed_pipe_keeps_its_own_verdict(home: Path) -> None:
    done = into_closed_pipe("run", "hello", "-i", "x")
    assert done.returncode == 0
    assert done.stderr.decode().startswith("✓ hello · SUCCESS")  # the summary, nothing more
    assert len(done.stderr.splitlines()) == 1
    assert traces(home)[0]["success"] is True


def closed_stdout(*args: str) -> subprocess.CompletedProcess[bytes]:
    """`wasmcli ARGS >&-`: started with no stdout at all."""
    command = ["sh", "-c", '"$0" "$@" >&-', wasmcli_exe(), *args]
    return subprocess.run(command, capture_output=True, timeout=60)


def test_a_run_with_stdout_closed_is_an_io_failure_that_the_trace_records(home: Path) -> None:
    done = closed_stdout("run", "hello", "-i", "x")
    assert done.returncode == 9, done.stderr
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "The output could not be written: stdout is closed" in lines[0]
    assert "trace " in lines[0]  # a trace that exists is cited
    latest = traces(home)[0]
    assert latest["success"] is False and latest["error_kind"] == "io"
    assert latest["trace_id"].startswith(lines[0].rsplit("trace ", 1)[1].strip())
    failure = [e for e in latest["events"] if e["event_type"] == "ExecutionError"][-1]
    assert failure["metadata"]["stage"] == "output"


def test_json_with_stdout_closed_is_refused_before_the_run(home: Path) -> None:
    before = len(traces(home))
    done = closed_stdout("run", "hello", "-i", "x", "--json")
    assert done.returncode == 9
    assert done.stderr == b"error: The output could not be written: stdout is closed\n"
    assert len(traces(home)) == before


def test_a_full_disk_under_stdout_is_an_io_failure(home: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [wasmcli_exe(), "run", "hello", "-i", "x"], stdout=full, stderr=subprocess.PIPE
        )
    assert done.returncode == 9
    assert b"No space left on device" in done.stderr and len(done.stderr.splitlines()) == 1
    assert traces(home)[0]["error_kind"] == "io"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--env", "timestamp=5"], "error: --env timestamp=... is reserved: use --timestamp"),
        (["--env", "random_seed=5"], "error: --env random_seed=... is reserved: use --seed"),
        (["--fuel", str(2**63)], "error: --fuel must be at most 9223372036854775807 (2^63-1)"),
        (["--timeout-ms", "86400001"], "error: --timeout-ms must be at most 86400000 (24 h)"),
        (["--memory-limit-mb", "4097"], "error: --memory-limit-mb must be at most 4096 (4 GiB)"),
        (["--max-output", "2G"], "error: --max-output must be at most 1G (1 GiB)"),
        (["--seed", str(2**63)], "error: --seed must be at most 9223372036854775807"),
        (["--timestamp", str(-(2**63) - 1)], "error: --timestamp must be at least"),
        (["--engine", "v8"], "error: unknown engine 'v8': choose one of auto, wasmtime, wasmer"),
        (["--input", "a", "--input-file", "b"], "error: --input and --input-file cannot"),
    ],
)
def test_usage_errors_are_one_line_and_not_runs(home: Path, args, message) -> None:
    before = len(traces(home))
    done = run("run", "hello", *args)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.decode().startswith(message)
    assert len(done.stderr.splitlines()) == 1
    assert len(traces(home)) == before  # no trace: nothing ran


def test_an_engine_this_python_lacks_is_a_usage_error_not_a_run(home: Path) -> None:
    from wasmcli.engines import wasmer_unavailable_reason

    if wasmer_unavailable_reason() is None:
        pytest.skip("wasmer works on this Python")
    before = len(traces(home))
    done = run("run", "hello", "-i", "x", "--engine", "wasmer")
    assert done.returncode == 2
    assert done.stderr.decode().startswith("error: The wasmer engine ")
    assert len(done.stderr.splitlines()) == 1
    assert len(traces(home)) == before


def test_failures_after_parsing_name_what_was_typed(home: Path) -> None:
    missing = run("run", "no-such-plugin", "--no-trace")
    assert missing.returncode == 3
    assert missing.stderr.decode().startswith("✗ no-such-plugin (not loaded) · load:")
    bad_input = run("run", "hello", "--input-file", "-", stdin=b"\xff")
    assert bad_input.returncode == 9
    assert bad_input.stderr.decode().startswith("✗ hello · io: Input is not valid UTF-8")
    assert traces(home)[0]["binary_name"] == "hello"


def test_home_after_the_command_name(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    env = {"WASMCLI_HOME": str(tmp_path / "not-this-one")}
    assert run("register", HELLO, "--name", "hi", "--home", str(home), env=env).returncode == 0
    listed = run("list", "--json", "--home", str(home), env=env)
    assert [b["name"] for b in json.loads(listed.stdout)] == ["hi"]
    assert run("run", "hi", "-i", "x", "--home", str(home), env=env).returncode == 0
    shown = run("traces", "list", "--json", "--home", str(home), env=env)
    assert [t["binary_name"] for t in json.loads(shown.stdout)] == ["hi"]
    # Given on both sides of the command name, the last one wins.
    both = run("--home", str(tmp_path / "first"), "list", "--json", "--home", str(home))
    assert [b["name"] for b in json.loads(both.stdout)] == ["hi"]
    assert not (tmp_path / "not-this-one").exists() and not (tmp_path / "first").exists()


@pytest.mark.parametrize("how", ["variable", "option"])
def test_a_home_that_is_a_file_gives_one_clear_line(tmp_path: Path, how: str) -> None:
    file = tmp_path / "home-file"
    file.write_text("not a folder")
    if how == "variable":
        done = run("list", env={"WASMCLI_HOME": str(file)})
        named = "WASMCLI_HOME"
    else:
        done = run("list", "--home", str(file))
        named = "--home"
    assert done.returncode == 2
    assert done.stderr.decode() == (
        f"error: {named} {file} is a file, not a folder: point it at a folder for wasmcli's data\n"
    )


def test_shell_completion_completes_commands_and_options(home: Path) -> None:
    def complete(words: str, index: int) -> list[str]:
        asking = {"_WASMCLI_COMPLETE": "complete_bash", "COMP_WORDS": words}
        done = run(env={**asking, "COMP_CWORD": str(index)})
        assert done.returncode == 0, done.stderr
        return done.stdout.decode().split()

    assert complete("wasmcli tr", 1) == ["traces"]
    assert complete("wasmcli traces l", 2) == ["list"]
    assert "--timeout-ms" in complete("wasmcli run hello --ti", 3)
    script = run("--show-completion", "bash")
    assert script.returncode == 0 and b"_WASMCLI_COMPLETE=complete_bash" in script.stdout


def test_inspect_exits_4_whenever_the_abi_check_fails(home: Path) -> None:
    for plugin in ("imports_get_state", "no_process", "wrong_signature", "big_memory"):
        done = run("inspect", str(FAULTY / f"{plugin}.wasm"))
        assert done.returncode == 4, plugin
    assert run("inspect", "hello").returncode == 0


def test_inspect_fails_a_start_function_that_always_traps(home: Path) -> None:
    done = run("inspect", str(FAULTY / "start_trap.wasm"), "--json")
    assert done.returncode == 4
    report = json.loads(done.stdout)
    assert report["abi"]["ok"] is False
    assert [p["message"] for p in report["abi"]["problems"]] == [
        "the start function always traps (its first instruction is `unreachable`), "
        "so the module can never be instantiated"
    ]
    # and running it fails the same way, with the code inspect gave
    assert run("run", str(FAULTY / "start_trap.wasm")).returncode == 4


def test_a_start_function_that_does_work_passes_inspect(tmp_path: Path, home: Path) -> None:
    from wasmcli.wasm.wat import wat_to_wasm

    module = tmp_path / "starts.wasm"
    module.write_bytes(
        wat_to_wasm(
            """(module (memory (export "memory") 1) (global $g (mut i32) (i32.const 0))
                 (func $init (local i64) nop (global.set $g (i32.const 1)))
                 (start $init)
                 (func (export "process") (param i32 i32 i32 i32) (result i32) (i32.const 0)))"""
        )
    )
    assert run("inspect", str(module)).returncode == 0


def test_default_seeds_stay_within_2_to_the_53(cli) -> None:
    for _ in range(40):
        assert cli("run", HELLO, "-i", "x", "--quiet").exit_code == 0
    seeds = [
        event["metadata"]["random_seed"]
        for trace in cli("traces", "export").json()
        for event in trace["events"]
        if event["event_type"] == "ExecutionStart"
    ]
    assert len(seeds) == 40 and len(set(seeds)) > 1  # random, and each run has one
    assert all(0 <= seed < 2**53 for seed in seeds)


INJECT_A_BUG = (
    "import sys\n"
    "from wasmcli.store.registry import Registry\n"
    "def broken(self, *args, **kwargs):\n"
    "    raise RuntimeError('injected bug')\n"
    "Registry.list = broken\n"
    "from wasmcli.cli import main\n"
    "sys.argv = ['wasmcli', 'list']\n"
    "main()\n"
)


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_is_exit_10_with_one_line_and_the_traceback_on_request(
    tmp_path: Path, debug: bool
) -> None:
    env = {**os.environ, "WASMCLI_HOME": str(tmp_path / "home")}
    env.pop("WASMCLI_DEBUG", None)
    if debug:
        env["WASMCLI_DEBUG"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", INJECT_A_BUG], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 10
    assert done.stdout == ""
    last = done.stderr.splitlines()[-1]
    assert last == (
        "error: Internal error: RuntimeError: injected bug "
        "(this is a bug in wasmcli; please report it with the trace id)"
    )
    if debug:
        assert "Traceback (most recent call last)" in done.stderr
        assert "in broken" in done.stderr  # where the bug is
        assert "\nRuntimeError: injected bug\n" in done.stderr  # and what it was
    else:
        assert done.stderr == last + "\n"


def test_a_bug_during_a_run_is_exit_10_and_keeps_the_trace(cli, monkeypatch) -> None:
    import wasmcli.runtime.executor as executor

    def broken(*args: object) -> None:
        raise RuntimeError("injected bug")

    monkeypatch.setattr(executor.Executor, "_run", broken)
    result = cli("run", HELLO, "-i", "x")
    assert result.exit_code == 10
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "internal: Internal error: RuntimeError: injected bug" in lines[0]
    assert "Traceback" not in result.stderr
    stored = cli("traces", "list", "--json").json()
    assert stored[0]["error_kind"] == "internal"
    monkeypatch.setenv("WASMCLI_DEBUG", " 0 ")  # 0 (or empty) is off, as unset
    assert "Traceback" not in cli("run", HELLO, "-i", "x").stderr
    monkeypatch.setenv("WASMCLI_DEBUG", "1")
    assert "Traceback (most recent call last)" in cli("run", HELLO, "-i", "x").stderr


@pytest.mark.parametrize(("code", "exit_code"), [(3, 3), (0, 0), (None, 0), ("a message", 1)])
def test_an_invocation_ended_by_sys_exit_keeps_its_code(code: object, exit_code: int) -> None:
    # click and typer end some invocations with sys.exit (shell completion, a prompt's
    # end): the shell sees their code as Python itself would give it.
    from wasmcli.cli.errors import exit_code_for

    assert exit_code_for(SystemExit(code)) == exit_code


@pytest.mark.parametrize(
    ("ending", "exit_code", "line"),
    [
        (KeyboardInterrupt(), 130, "error: interrupted"),
        ("SIGTERM", 143, "error: terminated by SIGTERM"),
        ("SIGHUP", 129, "error: terminated by SIGHUP"),
        # click's own failures outside parsing (a file option it could not open, say).
        ("click", 1, "error: Could not open file 'x.txt': gone"),
    ],
    ids=["ctrl-c", "sigterm", "sighup", "click-exception"],
)
def test_what_ended_an_invocation_is_said_in_one_line(
    capsys, ending: object, exit_code: int, line: str
) -> None:
    from typer._click.exceptions import FileError

    from wasmcli.cli.errors import exit_code_for
    from wasmcli.errors import Terminated

    exc = ending
    if ending == "click":
        exc = FileError("x.txt", hint="gone")
    elif isinstance(ending, str):
        exc = Terminated(getattr(signal, ending))
    assert isinstance(exc, BaseException)
    assert exit_code_for(exc) == exit_code
    assert capsys.readouterr().err == f"{line}\n"
