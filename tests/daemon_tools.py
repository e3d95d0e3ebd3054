"""Real daemons in temporary homes, for the daemon tests: started with the CLI, driven
through the installed `wasmcli` command as a shell would, and never left running (the
fixture kills every process of every daemon its home had, whatever the test did)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wasmcli.daemon.launch import BOOT

IDLE = "2m"  # a test's daemon exits on its own if a test run is killed


def wasmcli_exe() -> str:
    candidate = Path(sys.executable).with_name("wasmcli")
    if not candidate.exists():
        pytest.skip("wasmcli console script not installed next to this Python")
    return str(candidate)


class Daemon:
    """A home and the environment its commands run with; `run` goes through the daemon
    (when one serves the home), `run_in_process` never does."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.folder = home / "daemon"

    def environment(self, mode: str, extra: dict[str, str | None] | None) -> dict[str, str]:
        """The test's environment (read when a command starts), this home, WASMCLI_DAEMON
        as asked; `extra` entries added (None removes one)."""
        env = {k: v for k, v in os.environ.items() if k != "WASMCLI_DAEMON"}
        env.update(WASMCLI_HOME=str(self.home), WASMCLI_DAEMON=mode)
        for name, value in (extra or {}).items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def run(
        self,
        *args: str,
        mode: str = "auto",
        env: dict[str, str | None] | None = None,
        **kwargs: Any,
    ) -> subprocess.CompletedProcess[bytes]:
        kwargs.setdefault("timeout", 120)
        kwargs.setdefault("capture_output", True)
        return subprocess.run([wasmcli_exe(), *args], env=self.environment(mode, env), **kwargs)

    def run_in_process(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return self.run(*args, mode="0", **kwargs)

    def popen(
        self,
        *args: str,
        mode: str = "auto",
        env: dict[str, str | None] | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[bytes]:
        return subprocess.Popen([wasmcli_exe(), *args], env=self.environment(mode, env), **kwargs)

    def start(self, *extra: str, env: dict[str, str | None] | None = None) -> int:
        done = self.run("daemon", "start", "--idle", IDLE, *extra, env=env)
        assert done.returncode == 0, done.stderr
        return self.pid()

    def stop(self) -> None:
        self.run("daemon", "stop")

    def status(self) -> dict[str, object]:
        done = self.run("daemon", "status", "--json")
        data: dict[str, object] = json.loads(done.stdout)
        return data

    def pid(self) -> int:
        info = json.loads((self.folder / "info.json").read_text())
        return int(info["pid"])

    def alive(self) -> bool:
        """Whether a daemon holds the home's lock."""
        from wasmcli.daemon.stale import lock_holder_alive

        return lock_holder_alive(str(self.folder))

    def wait_gone(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.alive():
            assert time.monotonic() < deadline, "the daemon did not stop"
            time.sleep(0.05)


def daemon_processes(home: Path) -> list[int]:
    """Every process of every daemon serving `home` (the main process and its forks
    share its command line)."""
    found = []
    needle = f"--home\0{home}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if BOOT.encode() in cmdline and needle in cmdline:
            found.append(int(entry.name))
    return found


def kill_daemons(home: Path) -> None:
    for pid in daemon_processes(home):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except OSError:
            pass


@pytest.fixture
def daemon_home(wasmcli_home: Path) -> Iterator[Daemon]:
    """The test's home, ready for daemons; every daemon of it is killed at teardown."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the daemon uses Linux's SO_PEERCRED")
    daemon = Daemon(wasmcli_home)
    try:
        yield daemon
    finally:
        if daemon.alive():
            daemon.stop()
        kill_daemons(wasmcli_home)


@pytest.fixture
def daemon(daemon_home: Daemon) -> Daemon:
    """A daemon serving the test's home."""
    daemon_home.start()
    return daemon_home


_MASKS = [
    # trace, binary and batch ids (full and short), sha256s
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "<id>"),
    # times of day and dates
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\b\d\d-\d\d \d\d:\d\d(:\d\d(\.\d+)?)?\b"), "<time>"),
    # durations as shown, and as JSON numbers
    (re.compile(r"\d[\d,]*(\.\d+)?\s?(µs|ms|s)\b|\b\d+m\d\ds\b"), "<duration>"),
    (
        re.compile(
            r'"(duration_ms|duration_us|timestamp|at_us|start_us|random_seed|env_length|env_len)"'
            r": ?-?[\d.]+"
        ),
        r'"\1": 0',
    ),
    (re.compile(r"[+\-−]<duration>"), "<duration>"),
    # the env JSON's size, which an unseeded run's random seed changes
    (re.compile(r'("operation": ?"write_env", ?"ptr": ?\d+, ?"bytes": ?)\d+'), r"\g<1>0"),
    # how much a duration changed (traces diff)
    (re.compile(r"(<duration>[^\n]*?)\([+-−]?[\d.,]+%\)"), r"\1(<change>)"),
    # histograms of durations
    (re.compile(r"[ ▁▂▃▄▅▆▇█]*[▁▂▃▄▅▆▇█][ ▁▂▃▄▅▆▇█]*"), "<bars>"),
    # column widths and rules that follow a duration's width
    (re.compile(r" {2,}"), " "),
    (re.compile(r" +$", re.M), ""),
    (re.compile(r"─+"), "─"),
]


def mask(text: str) -> str:
    """Output with what differs from one run to the next (ids, times) made constant."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text
