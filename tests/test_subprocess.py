"""The installed `wasmcli` as a real process: exit codes, stdin, stdout/stderr separation.

These are the contract shell scripts and CI steps rely on, so they run the console
script itself rather than the in-process runner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import SAMPLES

HELLO = str(SAMPLES / "hello.wasm")


def wasmcli_exe() -> str:
    candidate = Path(sys.executable).with_name("wasmcli")
    if not candidate.exists():
        pytest.skip("wasmcli console script not installed next to this Python")
    return str(candidate)


def run(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [wasmcli_exe(), *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_stdout_is_output_only_and_stderr_has_the_summary() -> None:
    done = run("run", HELLO, "--input", "world")
    assert done.returncode == 0
    assert done.stdout == b"Hello, world!\n"
    assert b"SUCCESS" in done.stderr


def test_stdin_pipe_is_the_input() -> None:
    done = run("run", HELLO, stdin=b"pipe")
    assert done.stdout == b"Hello, pipe!\n"


def test_json_stdout_parses(tmp_path: Path) -> None:
    done = run("run", HELLO, "--input", "j", "--json")
    assert json.loads(done.stdout)["output"] == "Hello, j!"


def test_exit_codes_reach_the_shell(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"\x01\x02\x03")
    assert run("run", str(garbage)).returncode == 3
    assert run("run", "missing.wasm").returncode == 3
    assert run("run", HELLO, "--no-such-flag").returncode == 2
    failed = run("run", str(garbage))
    assert failed.stdout == b""
    lines = failed.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "bad magic bytes" in lines[0]
    assert b"Traceback" not in failed.stderr


def test_read_only_commands_do_not_import_an_engine() -> None:
    code = (
        "import sys\n"
        "from wasmcli.cli.app import main\n"
        "for argv in (['wasmcli', 'list'], ['wasmcli', 'traces', 'list'], ['wasmcli', 'codes']):\n"
        "    sys.argv = argv\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('wasmtime', 'wasmer'))\n"
        "sys.stderr.write('ENGINES=' + ','.join(loaded) + '\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert b"ENGINES=\n" in done.stderr, done.stderr


def start_endless_run(
    engine_name: str, tmp_path: Path, name: str = "loop"
) -> subprocess.Popen[bytes]:
    """`wasmcli run` of a plugin that never ends (60 s limit), in its own home, with
    SIGINT handled as at a terminal (a shell's background jobs inherit it ignored)."""
    from wasmcli.engines import available_engines

    if engine_name not in available_engines():
        pytest.skip(f"{engine_name} is not available on this Python")
    loop = tmp_path / f"{name}.wasm"
    loop.write_bytes((SAMPLES / "faulty" / "infinite_loop.wasm").read_bytes())
    command = [wasmcli_exe(), "run", str(loop), "--engine", engine_name]
    command += ["--timeout-ms", "60000", "--fuel", str(10**15)]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WASMCLI_HOME": str(tmp_path / "home")},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)  # well inside the plugin's endless loop
    return proc


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_ctrl_c_stops_a_running_plugin_and_keeps_its_trace(
    engine_name: str, tmp_path: Path
) -> None:
    proc = start_endless_run(engine_name, tmp_path)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 5  # stopped now, not at the 60 s limit
    assert b"Traceback" not in stderr
    listed = run("traces", "list", "--json", env={"WASMCLI_HOME": str(tmp_path / "home")})
    assert [t["error_kind"] for t in json.loads(listed.stdout)] == ["interrupted"]


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_killing_wasmcli_leaves_no_plugin_running(engine_name: str, tmp_path: Path) -> None:
    marker = f"no-orphans-{engine_name}-{os.getpid()}"
    proc = start_endless_run(engine_name, tmp_path, name=marker)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(0.5)
    survivors = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    for pid in survivors.split():
        os.kill(int(pid), signal.SIGKILL)  # clean up before failing
    assert survivors.strip() == ""
