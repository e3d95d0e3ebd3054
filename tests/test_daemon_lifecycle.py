"""The daemon as a user drives it: start, status, stop, restart, idle exit, one per home,
WASMCLI_DAEMON, a stale socket, a daemon of another version, signals, processes killed
mid-run on either side, and many clients at once. Real daemons in temporary homes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import SAMPLES
from .daemon_tools import Daemon, daemon_processes

HELLO = str(SAMPLES / "hello.wasm")

# Logs a line, then loops: the line says the plugin runs (a readiness signal, no sleep).
STARTED_THEN_LOOPS = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "started")
  (func (export "process") (param i32 i32 i32 i32) (result i32)
    (call $log (i32.const 0) (i32.const 7))
    (loop $forever (br $forever))
    (i32.const 0)))
"""
LONG = ["--timeout-ms", "120000"]  # far longer than any test waits


def served_count(daemon: Daemon) -> int:
    return int(daemon.status()["served"])  # type: ignore[call-overload]


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def started_line(process: subprocess.Popen[bytes]) -> None:
    """Wait until the plugin's first line reaches the client's stdout."""
    assert process.stdout is not None
    assert process.stdout.readline() == b"started\n"


# -- start, status, stop ------------------------------------------------------------------


def test_start_status_stop(daemon_home: Daemon) -> None:
    started = daemon_home.run("daemon", "start", "--idle", "2m")
    assert started.returncode == 0, started.stderr
    pid = daemon_home.pid()
    assert started.stderr.decode() == (
        f"Started the wasmcli daemon for {daemon_home.home} (pid {pid}); "
        "it exits after 2m without a command.\n"
    )
    assert started.stdout == b""
    # Only its owner can reach it.
    assert stat.S_IMODE(os.stat(daemon_home.folder).st_mode) == 0o700
    socket_mode = os.stat(daemon_home.folder / "socket").st_mode
    assert stat.S_ISSOCK(socket_mode) and stat.S_IMODE(socket_mode) == 0o600

    status = daemon_home.run("daemon", "status")
    assert status.returncode == 0
    text = status.stdout.decode()
    assert f"daemon   running, pid {pid}" in text
    assert "version  wasmcli 0.1.0" in text and "served   0 commands" in text
    assert "uptime" in text and "exits after 2m without a command" in text

    assert daemon_home.run("run", HELLO, "-i", "x").stdout == b"Hello, x!\n"
    data = daemon_home.status()
    assert data["pid"] == pid and data["served"] == 1 and data["usable"] is True

    stopped = daemon_home.run("daemon", "stop")
    assert stopped.returncode == 0
    assert stopped.stderr.decode() == (
        f"Stopped the wasmcli daemon for {daemon_home.home} (pid {pid}).\n"
    )
    assert not daemon_home.alive()
    assert not (daemon_home.folder / "socket").exists()
    assert daemon_processes(daemon_home.home) == []
    after = daemon_home.run("daemon", "status")
    assert after.returncode == 1
    assert after.stdout.decode() == f"daemon   not running for {daemon_home.home}\n"
    again = daemon_home.run("daemon", "stop")
    assert again.returncode == 0
    assert again.stderr.decode() == f"No wasmcli daemon runs for {daemon_home.home}.\n"


def test_one_daemon_per_home(daemon: Daemon) -> None:
    first = daemon.pid()
    second = daemon.run("daemon", "start")
    assert second.returncode == 0
    assert second.stderr.decode() == (
        f"The wasmcli daemon for {daemon.home} is already running (pid {first}).\n"
    )
    assert daemon.pid() == first
    main_processes = [p for p in daemon_processes(daemon.home) if os.getpgid(p) == p]
    assert main_processes == [first]


def test_restart_replaces_the_daemon(daemon: Daemon) -> None:
    first = daemon.pid()
    done = daemon.run("daemon", "restart", "--idle", "1m")
    assert done.returncode == 0, done.stderr
    second = daemon.pid()
    assert second != first
    assert f"Stopped the wasmcli daemon for {daemon.home} (pid {first})" in done.stderr.decode()
    assert daemon.status()["idle_s"] == 60.0


def test_the_daemon_exits_when_idle(daemon_home: Daemon) -> None:
    daemon_home.run("daemon", "start", "--idle", "1s")
    assert daemon_home.run("run", HELLO, "-i", "x").returncode == 0
    daemon_home.wait_gone()
    assert not (daemon_home.folder / "socket").exists()
    assert daemon_processes(daemon_home.home) == []


@pytest.mark.parametrize(
    ("idle", "message"),
    [
        ("0s", "error: --idle must be between 1s and 7d (got 0s)"),
        ("8d", "error: --idle must be between 1s and 7d (got 8d)"),
        ("soon", "error: --idle: invalid duration 'soon': use a number with s, m, h, d or w"),
    ],
)
def test_idle_out_of_range_is_a_usage_error(daemon_home: Daemon, idle: str, message: str) -> None:
    done = daemon_home.run("daemon", "start", "--idle", idle)
    assert done.returncode == 2
    assert done.stderr.decode().startswith(message)
    assert not daemon_home.alive()


# -- WASMCLI_DAEMON and --verbose -----------------------------------------------------------


def test_wasmcli_daemon_chooses_the_path(daemon_home: Daemon) -> None:
    none = daemon_home.run("--verbose", "run", HELLO, "-i", "x")
    assert none.stdout == b"Hello, x!\n"
    assert none.stderr.decode().startswith(
        f"wasmcli: running in-process: no daemon runs for the home {daemon_home.home}\n"
    )
    # 1: starts one, which serves this command and the next ones.
    first = daemon_home.run("--verbose", "run", HELLO, "-i", "x", mode="1")
    assert first.stdout == b"Hello, x!\n"
    assert first.stderr.decode().startswith("wasmcli: served by the daemon (pid ")
    assert daemon_home.alive() and served_count(daemon_home) == 1
    assert daemon_home.run("run", HELLO, "-i", "y").stdout == b"Hello, y!\n"
    assert served_count(daemon_home) == 2
    # 0: never.
    off = daemon_home.run("--verbose", "run", HELLO, "-i", "z", mode="0")
    assert off.stdout == b"Hello, z!\n" and b"wasmcli:" not in off.stderr
    assert served_count(daemon_home) == 2
    bad = daemon_home.run("run", HELLO, "-i", "z", mode="maybe")
    assert bad.returncode == 2
    assert bad.stderr == b"error: invalid WASMCLI_DAEMON='maybe': use auto, 1 or 0\n"


def test_daemon_commands_never_go_through_the_daemon(daemon: Daemon) -> None:
    daemon.run("daemon", "status")
    daemon.run("--home", str(daemon.home), "daemon", "status")
    assert served_count(daemon) == 0


# -- a stale socket, another version ----------------------------------------------------------


def test_a_stale_socket_is_cleared_and_the_command_runs_in_process(daemon: Daemon) -> None:
    os.killpg(daemon.pid(), signal.SIGKILL)
    wait_for(lambda: not daemon.alive(), what="the killed daemon to be gone")
    assert (daemon.folder / "socket").exists()  # what a killed daemon leaves

    done = daemon.run("--verbose", "run", HELLO, "-i", "x")
    assert done.returncode == 0 and done.stdout == b"Hello, x!\n"
    assert done.stderr.decode().startswith(
        "wasmcli: running in-process: the daemon cannot be reached: its daemon is gone"
    )
    assert not (daemon.folder / "socket").exists()
    assert daemon.run("daemon", "status").returncode == 1
    assert daemon.run("daemon", "start").returncode == 0
    assert daemon.run("run", HELLO, "-i", "y").stdout == b"Hello, y!\n"
    assert served_count(daemon) == 1


def test_a_new_daemon_replaces_a_stale_socket(daemon: Daemon) -> None:
    os.killpg(daemon.pid(), signal.SIGKILL)
    wait_for(lambda: not daemon.alive(), what="the killed daemon to be gone")
    pid = daemon.start()
    assert daemon.status()["pid"] == pid


def start_other_version(daemon: Daemon, version: str) -> int:
    """A daemon of another wasmcli version for the home, started as the CLI would."""
    read_end, write_end = os.pipe()
    boot = (
        f"import wasmcli; wasmcli.__version__ = {version!r}; "
        "from wasmcli.cli.daemon_host import main; main()"
    )
    subprocess.Popen(
        [
            sys.executable,
            "-c",
            boot,
            "--home",
            str(daemon.home),
            "--idle",
            "120",
            "--ready-fd",
            str(write_end),
        ],
        pass_fds=(write_end,),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=daemon.environment("0", None),
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        line = ready.read().decode()
    assert line.startswith("ready "), line
    return int(line.split()[1])


def test_a_daemon_of_another_version_is_never_used(daemon_home: Daemon) -> None:
    other = start_other_version(daemon_home, "0.0.1-other")
    done = daemon_home.run("--verbose", "run", HELLO, "-i", "x")
    assert done.returncode == 0 and done.stdout == b"Hello, x!\n"
    assert done.stderr.decode().startswith(
        "wasmcli: running in-process: the daemon runs another wasmcli or Python environment "
        "(its wasmcli is 0.0.1-other, this one's is 0.1.0)\n"
    )
    quiet = daemon_home.run("run", HELLO, "-i", "x")
    assert quiet.stderr.decode().startswith("✓ hello")  # says nothing without --verbose
    status = daemon_home.status()
    assert status["pid"] == other and status["usable"] is False and status["served"] == 0
    text = daemon_home.run("daemon", "status").stdout.decode()
    assert "not used by this wasmcli (its wasmcli is 0.0.1-other" in text
    refused = daemon_home.run("daemon", "start")
    assert refused.returncode == 9
    assert "`wasmcli daemon restart` replaces it" in refused.stderr.decode()
    assert daemon_home.run("daemon", "restart").returncode == 0
    assert daemon_home.status()["usable"] is True


def test_a_busy_daemon_turns_commands_away_but_answers_status_and_stop(
    daemon_home: Daemon, wat_file
) -> None:
    daemon_home.start("--max-commands", "1")
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    looping = daemon_home.popen(
        "run", plugin, *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    started_line(looping)  # the one command it serves at once
    status = daemon_home.status()  # answered by the daemon itself: no process is free
    assert status["running"] is True and status["busy"] == 1 and status["max_commands"] == 1
    text = daemon_home.run("daemon", "status").stdout.decode()
    assert "limit    1 command at once: all busy, more run in-process" in text
    turned_away = daemon_home.run("--verbose", "run", HELLO, "-i", "x")
    assert turned_away.returncode == 0 and turned_away.stdout == b"Hello, x!\n"
    assert turned_away.stderr.decode().startswith(
        "wasmcli: running in-process: the daemon is busy with as many commands as it runs"
    )
    stopping = daemon_home.popen("daemon", "stop", stderr=subprocess.PIPE)
    looping.send_signal(signal.SIGINT)  # the served command ends, so the daemon can stop
    assert looping.wait(60) == 130
    _, said = stopping.communicate(timeout=60)
    assert stopping.returncode == 0
    assert (
        said.decode()
        == f"Stopped the wasmcli daemon for {daemon_home.home} (pid {status['pid']}).\n"
    )
    assert not daemon_home.alive()


def test_max_commands_is_checked(daemon_home: Daemon) -> None:
    refused = daemon_home.run("daemon", "start", "--max-commands", "0")
    assert refused.returncode == 2 and not daemon_home.alive()
    assert refused.stderr.decode().endswith("--max-commands must be between 1 and 1024 (got 0)\n")


# -- signals, and processes that die mid-run -----------------------------------------------


@pytest.mark.parametrize(
    ("signum", "code", "kind", "line"),
    [
        (signal.SIGINT, 130, "interrupted", b"error: interrupted\n"),
        (signal.SIGTERM, 143, "terminated", b"error: terminated by SIGTERM\n"),
        (signal.SIGHUP, 129, "terminated", b"error: terminated by SIGHUP\n"),
    ],
)
def test_a_signal_to_the_client_stops_the_run_as_in_process(
    engine: str, daemon: Daemon, wat_file, signum: int, code: int, kind: str, line: bytes
) -> None:
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    results = []
    for mode in ("0", "auto"):
        process = daemon.popen(
            "run", plugin, *LONG, mode=mode, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        started_line(process)
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
        trace = json.loads(daemon.run_in_process("traces", "show", "--last", "--json").stdout)
        results.append((process.returncode, stderr, trace["error_kind"], trace["events"][-1]))
    in_process, served = results
    assert served[:3] == in_process[:3] == (code, line, kind)
    assert served[3]["metadata"]["stage"] == in_process[3]["metadata"]["stage"] == "process"
    assert served_count(daemon) == 1


def test_a_daemon_killed_mid_run_is_one_line_and_exit_9(daemon: Daemon, wat_file) -> None:
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    process = daemon.popen(
        "--verbose", "run", plugin, *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    serving = int(process.stderr.readline().split(b"pid ")[1].rstrip(b")\n"))
    started_line(process)
    os.kill(serving, signal.SIGKILL)  # the process serving this command
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 9
    assert stderr == (
        b"error: the wasmcli daemon stopped before the command finished; "
        b"the next call runs without it (or set WASMCLI_DAEMON=0)\n"
    )
    # The daemon itself lives on and serves the next command.
    assert daemon.run("run", HELLO, "-i", "x").stdout == b"Hello, x!\n"
    assert served_count(daemon) == 2


def test_a_whole_daemon_killed_mid_run(daemon: Daemon, wat_file) -> None:
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    process = daemon.popen("run", plugin, *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started_line(process)
    os.killpg(daemon.pid(), signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 9 and stderr.count(b"\n") == 1
    # The next call runs in-process; with WASMCLI_DAEMON=1 it starts a new daemon.
    assert daemon.run("run", HELLO, "-i", "x").stdout == b"Hello, x!\n"
    assert not daemon.alive()
    restarted = daemon.run("--verbose", "run", HELLO, "-i", "y", mode="1")
    assert restarted.stdout == b"Hello, y!\n"
    assert restarted.stderr.startswith(b"wasmcli: served by the daemon")


def test_a_client_killed_mid_run_stops_its_run(engine: str, daemon: Daemon, wat_file) -> None:
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    process = daemon.popen(
        "--verbose", "run", plugin, *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    serving = int(process.stderr.readline().split(b"pid ")[1].rstrip(b")\n"))
    started_line(process)
    process.kill()
    process.wait(timeout=60)

    def stored() -> bool:
        listed = daemon.run_in_process("traces", "list", "--json").stdout
        return any(t["binary_name"] == "loops" for t in json.loads(listed))

    wait_for(stored, what="the cancelled run's trace")
    trace = json.loads(daemon.run_in_process("traces", "show", "--last", "--json").stdout)
    assert trace["error_kind"] == "interrupted"
    assert trace["events"][-1]["metadata"]["stage"] == "process"
    wait_for(lambda: not Path(f"/proc/{serving}").exists(), what="the serving process to end")


# -- many clients -----------------------------------------------------------------------------


def test_32_clients_at_once(daemon: Daemon) -> None:
    daemon.run("register", HELLO, "--name", "hello")
    results: dict[int, subprocess.CompletedProcess[bytes]] = {}

    def client(i: int) -> None:
        results[i] = daemon.run("run", "hello", "-i", f"client {i}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, done in results.items():
        assert done.returncode == 0, done.stderr
        assert done.stdout == f"Hello, client {i}!\n".encode()
    assert len(results) == 32
    listed = json.loads(daemon.run_in_process("traces", "list", "--json", "--limit", "0").stdout)
    assert len(listed) == 32
    assert served_count(daemon) == 33


def test_a_plugin_that_loops_never_blocks_other_clients(
    engine: str, daemon: Daemon, wat_file
) -> None:
    plugin = str(wat_file(STARTED_THEN_LOOPS, "loops"))
    forever = daemon.popen("run", plugin, *LONG, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started_line(forever)
    # Its own deadline for each: a short one ends while the long one still runs.
    short = daemon.run("run", plugin, "--timeout-ms", "300", "--fuel", "10000000000000")
    assert short.returncode == 5 and b"timeout" in short.stderr
    assert daemon.run("run", HELLO, "-i", "x").stdout == b"Hello, x!\n"
    assert forever.poll() is None
    forever.send_signal(signal.SIGINT)
    assert forever.wait(timeout=60) == 130


# -- paths and the environment are the client's ----------------------------------------------


def test_relative_paths_are_the_clients(daemon: Daemon, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    (work / "out").mkdir(parents=True)
    (work / "plugin.wasm").write_bytes(Path(HELLO).read_bytes())
    (work / "input.txt").write_text("from a file")
    assert daemon.run("run", "plugin.wasm", "-f", "input.txt", cwd=work).stdout == (
        b"Hello, from a file!\n"
    )
    exported = daemon.run("traces", "export", "-o", "out/traces.json", cwd=work)
    assert exported.returncode == 0
    assert json.loads((work / "out" / "traces.json").read_text())[0]["binary_name"] == "plugin"
    # A relative --home is the client's too (and has no daemon of its own).
    other = daemon.run("--home", "relhome", "run", "plugin.wasm", "-i", "x", cwd=work)
    assert other.returncode == 0 and (work / "relhome" / "wasmcli.db").exists()
    assert served_count(daemon) == 2


def test_times_follow_the_clients_time_zone(daemon_home: Daemon) -> None:
    daemon_home.start(env={"TZ": "Asia/Tokyo"})
    daemon_home.run("run", HELLO, "-i", "x")
    for zone in ("UTC", "America/New_York"):
        served = daemon_home.run("traces", "list", env={"TZ": zone})
        plain = daemon_home.run_in_process("traces", "list", env={"TZ": zone})
        assert served.stdout == plain.stdout
    utc = daemon_home.run("traces", "list", env={"TZ": "UTC"}).stdout
    assert utc != daemon_home.run("traces", "list", env={"TZ": "America/New_York"}).stdout


def test_registered_modules_stay_compiled_in_the_daemons_memory(daemon_home: Daemon) -> None:
    daemon_home.run_in_process("register", HELLO, "--name", "hello")
    daemon_home.run_in_process("run", "hello", "-i", "x")  # compiled and cached
    daemon_home.start()
    shutil.rmtree(daemon_home.home / "cache")  # only the daemon's memory has it now

    def module_event() -> dict[str, object]:
        trace = json.loads(daemon_home.run_in_process("traces", "show", "--last", "--json").stdout)
        return next(e for e in trace["events"] if e["metadata"].get("step") == "module")

    assert daemon_home.run("run", "hello", "-i", "x").stdout == b"Hello, x!\n"
    assert module_event()["metadata"]["from_cache"] is True
    assert not (daemon_home.home / "cache").exists() or not any(
        (daemon_home.home / "cache").rglob("*.bin")
    )
    assert daemon_home.run_in_process("run", "hello", "-i", "x").returncode == 0
    assert module_event()["message"] == "Module compiled"  # in-process: compiled again
