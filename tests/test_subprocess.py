"""The installed `wasmcli` as a real process: exit codes, stdin, stdout/stderr separation.

These are the contract shell scripts and CI steps rely on, so they run the console
script itself rather than the in-process runner.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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


# Logs "ready" (the readiness signal the tests wait for), then never returns.
READY_THEN_LOOP = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ready")
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (local $x f64)
    (call $log (i32.const 0) (i32.const 5))
    (local.set $x (f64.const 2))
    (loop $forever
      (local.set $x (f64.sqrt (f64.sqrt (f64.sqrt (f64.sqrt (local.get $x))))))
      (br $forever))
    (i32.const 0)))
"""


def need_engine(engine_name: str) -> None:
    from wasmcli.engines import available_engines

    if engine_name not in available_engines():
        pytest.skip(f"{engine_name} is not available on this Python")


def _stop_signals_as_at_a_terminal(ignored: tuple[int, ...] = ()) -> Callable[[], None]:
    """For the child: SIGINT, SIGTERM and SIGHUP at their defaults, as a terminal starts a
    command (a shell's background jobs inherit SIGINT ignored, and a suite started under
    nohup SIGHUP), but those in `ignored`."""

    def reset() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN if signum in ignored else signal.SIG_DFL)

    return reset


def start_run(
    engine_name: str,
    tmp_path: Path,
    wasm: bytes,
    name: str = "loop",
    ignored: tuple[int, ...] = (),
) -> subprocess.Popen[bytes]:
    """`wasmcli run` of `wasm` (60 s limit) in its own home, with the stop signals
    handled as at a terminal but those in `ignored`."""
    need_engine(engine_name)
    path = tmp_path / f"{name}.wasm"
    path.write_bytes(wasm)
    command = [wasmcli_exe(), "run", str(path), "--engine", engine_name]
    command += ["--timeout-ms", "60000", "--fuel", str(10**15)]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WASMCLI_HOME": str(tmp_path / "home")},
        preexec_fn=_stop_signals_as_at_a_terminal(ignored),
    )


def start_endless_run(
    engine_name: str, tmp_path: Path, name: str = "loop", ignored: tuple[int, ...] = ()
) -> subprocess.Popen[bytes]:
    """A run whose plugin is looping: returns once the plugin's first line is out."""
    from wasmcli.wasm.wat import wat_to_wasm

    proc = start_run(engine_name, tmp_path, wat_to_wasm(READY_THEN_LOOP), name, ignored)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready and proc.stdout.readline() == b"ready\n", "the plugin never started"
    # The line is out while host.log still returns; a moment later the plugin is in its
    # loop, where a signal must wait for the engine to stop it (engines/epoch.py). The
    # tests hold either way; this makes them test the harder case.
    time.sleep(0.3)
    return proc


def traces_of(tmp_path: Path) -> list[dict]:
    listed = run("traces", "list", "--json", env={"WASMCLI_HOME": str(tmp_path / "home")})
    return json.loads(listed.stdout)


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
    assert stderr.decode().splitlines() == ["error: interrupted"]
    [trace] = traces_of(tmp_path)
    assert trace["error_kind"] == "interrupted"


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_sigterm_and_sighup_stop_the_plugin_and_keep_its_trace(
    engine_name: str, tmp_path: Path, signum: int, exit_code: int
) -> None:
    proc = start_endless_run(engine_name, tmp_path)
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == exit_code, stderr
    assert time.monotonic() - sent < 5
    name = signal.Signals(signum).name
    assert stderr.decode().splitlines() == [f"error: terminated by {name}"]
    [trace] = traces_of(tmp_path)
    assert trace["error_kind"] == "terminated"
    assert trace["error_message"] == f"Terminated by {name}"
    shown = run(
        "traces", "show", trace["trace_id"], "--json", env={"WASMCLI_HOME": str(tmp_path / "home")}
    )
    error_event = json.loads(shown.stdout)["events"][-1]
    assert error_event["metadata"]["stage"] == "process"


def test_a_sighup_ignored_by_nohup_stays_ignored(tmp_path: Path) -> None:
    proc = start_endless_run("wasmtime", tmp_path, ignored=(signal.SIGHUP,))
    proc.send_signal(signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.communicate(timeout=1)  # the plugin runs on
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in found.split()]


def wait_for_child(pid: int) -> int:
    """The first child process of `pid` (the wasmer engine process, the compile worker)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = children_of(pid)
        if children:
            return children[0]
        time.sleep(0.01)
    raise AssertionError(f"process {pid} started no child")


def wait_until_busy(pid: int, cpu_seconds: float) -> None:
    """Until process `pid` has used `cpu_seconds` of CPU (/proc/PID/stat utime + stime):
    past its start-up, it is doing the work it was started for."""
    ticks = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / ticks >= cpu_seconds:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} never got busy")


def gone_within(pid: int, seconds: float) -> bool:
    """Whether `pid` has ended (or is a zombie) within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False


def test_killing_wasmcli_leaves_no_plugin_running(tmp_path: Path) -> None:
    """wasmer runs the plugin in a child process: it must die with wasmcli at once (not
    at its own 60 s deadline). wasmtime runs plugins inside wasmcli itself, so a killed
    wasmcli takes its plugin along by construction; there the child process is the
    compile worker (see the next test)."""
    proc = start_endless_run("wasmer", tmp_path)
    child = wait_for_child(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)  # not communicate(): a surviving child would hold the pipes open
    alive = not gone_within(child, 1.0)
    if alive:
        os.kill(child, signal.SIGKILL)  # clean up before failing
    assert not alive, "the wasmer engine process outlived wasmcli"


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_killing_wasmcli_while_it_compiles_leaves_no_compiler_running(
    engine_name: str, tmp_path: Path
) -> None:
    from .test_hostile_plugins import big_module

    module = big_module(24 << 20)
    proc = start_run(engine_name, tmp_path, module, name="big")
    child = wait_for_child(proc.pid)  # wasmtime's compile worker, wasmer's engine process
    # Past its start-up (0.3 s of CPU), the child is compiling (for 3 s or more).
    wait_until_busy(child, 1.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)
    alive = not gone_within(child, 1.0)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, "the compiling process outlived wasmcli"


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_ctrl_c_before_the_plugin_starts_keeps_the_trace(engine_name: str, tmp_path: Path) -> None:
    from .test_hostile_plugins import big_module

    proc = start_run(engine_name, tmp_path, big_module(24 << 20), name="big")
    child = wait_for_child(proc.pid)  # compiling: the plugin has not started
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert time.monotonic() - sent < 3  # the compile was stopped, not waited for
    assert stdout == b"" and stderr.decode().splitlines() == ["error: interrupted"]
    assert gone_within(child, 1.0)
    [trace] = traces_of(tmp_path)
    assert trace["error_kind"] == "interrupted"
    events = run(
        "traces", "show", trace["trace_id"], "--json", env={"WASMCLI_HOME": str(tmp_path / "home")}
    )
    assert json.loads(events.stdout)["events"][-1]["metadata"]["stage"] == "load"


@pytest.mark.parametrize("engine_name", ["wasmtime", "wasmer"])
def test_processes_running_plugins_at_once_all_keep_their_traces(
    engine_name: str, tmp_path: Path
) -> None:
    need_engine(engine_name)
    env = {**os.environ, "WASMCLI_HOME": str(tmp_path / "home")}
    procs = [
        subprocess.Popen(
            [wasmcli_exe(), "run", HELLO, "--engine", engine_name, "--input", f"p{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for n in range(6)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, outputs
    assert [stdout for stdout, _ in outputs] == [f"Hello, p{n}!\n".encode() for n in range(6)]
    traces = traces_of(tmp_path)
    assert len(traces) == 6 and all(trace["success"] for trace in traces)
    assert len({trace["trace_id"] for trace in traces}) == 6


def tree_cpu_seconds(pid: int) -> float:
    """CPU used by `pid` and all its descendants (utime + stime, from /proc)."""
    total = 0.0
    for process in [pid, *descendants_of(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants_of(pid: int) -> list[int]:
    found = []
    for child in children_of(pid):
        found += [child, *descendants_of(child)]
    return found


@pytest.mark.parametrize(
    ("engine_name", "signum", "jobs"),
    [
        ("wasmtime", signal.SIGINT, "1"),
        ("wasmer", signal.SIGINT, "1"),
        ("wasmtime", signal.SIGTERM, "2"),
        ("wasmer", signal.SIGTERM, "2"),
    ],
)
def test_a_signal_stops_a_batch_and_keeps_what_ran(
    engine_name: str, signum: int, jobs: str, tmp_path: Path
) -> None:
    """The first input's result is out and the next inputs loop: the signal stops them
    and keeps their traces; what finished is on stdout; the exit code is 128 + signal."""
    from wasmcli.wasm.wat import wat_to_wasm

    from .test_batch_cli import BY_INPUT

    need_engine(engine_name)
    plugin = tmp_path / "by_input.wasm"
    plugin.write_bytes(wat_to_wasm(BY_INPUT))
    command = [wasmcli_exe(), "run", str(plugin), "--engine", engine_name, "--batch", "-"]
    command += ["--batch-lines", "--timeout-ms", "60000", "--fuel", str(10**15), "--jobs", jobs]
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "WASMCLI_HOME": str(tmp_path / "home")},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"quick\nloop\nloop\nnever\n")
    proc.stdin.close()
    proc.stdin = None  # all written: communicate() below only reads
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready, "no first result"
    first = json.loads(proc.stdout.readline())
    assert first["output"] == "quick" and first["success"]
    # Then a plugin is spinning: the process tree burns CPU steadily.
    wait_until(lambda: tree_cpu_seconds(proc.pid), tree_cpu_seconds(proc.pid) + 0.6)
    sent = time.monotonic()
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signum, stderr
    assert time.monotonic() - sent < 10
    assert stdout == b""  # the looping inputs were stopped: nothing more finished
    summary = stderr.decode().strip().splitlines()[-1]
    assert f"stopped by {signal.Signals(signum).name}" in summary
    batch_id = summary.split()[1].rstrip(":")
    listed = run(
        "traces",
        "list",
        "--batch",
        batch_id,
        "--json",
        env={"WASMCLI_HOME": str(tmp_path / "home")},
    )
    kinds = sorted(str(trace["error_kind"]) for trace in json.loads(listed.stdout))
    stopped = "interrupted" if signum == signal.SIGINT else "terminated"
    assert kinds in (["None", stopped], ["None", stopped, stopped])
    assert not descendants_of(proc.pid)


def wait_until(measure: Callable[[], float], target: float) -> None:
    deadline = time.monotonic() + 60
    while measure() < target:
        assert time.monotonic() < deadline, "nothing started spinning"
        time.sleep(0.02)
