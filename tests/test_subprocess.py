"""The installed `wasmcli` as a real process: exit codes, stdin, stdout/stderr separation.

These are the contract shell scripts and CI steps rely on, so they run the console
script itself rather than the in-process runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_ctrl_c_stops_a_running_plugin_and_keeps_its_trace(
    engine_name: str, tmp_path: Path
) -> None:
    import signal
    import time

    from wasmcli.engines import available_engines

    if engine_name not in available_engines():
        pytest.skip(f"{engine_name} is not available on this Python")
    loop = SAMPLES / "faulty" / "infinite_loop.wasm"
    env = {**os.environ, "WASMCLI_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            wasmcli_exe(),
            "run",
            str(loop),
            "--engine",
            engine_name,
            "--timeout-ms",
            "30000",
            "--fuel",
            str(10**15),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # A shell's background jobs inherit SIGINT ignored; a terminal's Ctrl-C does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=40)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 5  # stopped now, not at the 30 s timeout
    assert b"Traceback" not in stderr
    listed = subprocess.run(
        [wasmcli_exe(), "traces", "list", "--json"], capture_output=True, env=env, check=True
    )
    assert [t["error_kind"] for t in json.loads(listed.stdout)] == ["interrupted"]


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_killing_wasmcli_leaves_no_plugin_running(engine_name: str, tmp_path: Path) -> None:
    import signal
    import time

    from wasmcli.engines import available_engines

    if engine_name not in available_engines():
        pytest.skip(f"{engine_name} is not available on this Python")
    marker = f"no-orphans-{engine_name}-{os.getpid()}"
    loop = tmp_path / f"{marker}.wasm"
    loop.write_bytes((SAMPLES / "faulty" / "infinite_loop.wasm").read_bytes())
    env = {**os.environ, "WASMCLI_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            wasmcli_exe(),
            "run",
            str(loop),
            "--engine",
            engine_name,
            "--timeout-ms",
            "60000",
            "--fuel",
            str(10**15),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    survivors = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    for pid in survivors.split():
        os.kill(int(pid), signal.SIGKILL)  # clean up before failing
    assert survivors.strip() == ""
