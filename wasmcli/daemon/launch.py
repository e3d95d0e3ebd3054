"""Starting a home's daemon: a detached process (its own session, no terminal) that says
on a pipe when it serves, or why it does not.

Used by `wasmcli daemon start` and by the client under WASMCLI_DAEMON=1. The standard
library only, imported when a daemon is started.
"""

import os
import select
import subprocess
import sys
import time

DEFAULT_IDLE_S = 600  # 10 minutes (`wasmcli daemon start --idle`)
START_TIMEOUT_S = 120.0  # the warm-up imports everything once; a busy machine is slow
# `-c`, not `-m`: the server is then no module's `__main__`, so the batch workers that a
# request spawns (multiprocessing, spawn) do not import it again.
BOOT = "from wasmcli.cli.daemon_host import main; main()"


class Started:
    """What became of a start: `state` is "started", "running" (another daemon was
    there first) or "failed"; `pid` the daemon's, `message` why it failed."""

    __slots__ = ("message", "pid", "state")

    def __init__(self, state: str, pid: int | None = None, message: str = "") -> None:
        self.state = state
        self.pid = pid
        self.message = message


def start_daemon(
    home: str, idle_s: float = DEFAULT_IDLE_S, max_commands: int | None = None
) -> Started:
    """Start a daemon for `home` (an absolute path) and wait until it serves; it serves
    at most `max_commands` commands at once (None: its default, 64)."""
    limit = [] if max_commands is None else ["--max-commands", str(max_commands)]
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                BOOT,
                "--home",
                home,
                "--idle",
                repr(float(idle_s)),
                *limit,
                "--ready-fd",
                str(write_end),
            ],
            pass_fds=(write_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        return Started("failed", message=f"cannot start {sys.executable}: {exc.strerror or exc}")
    os.close(write_end)
    try:
        said = _read_all(read_end, time.monotonic() + START_TIMEOUT_S)
    finally:
        os.close(read_end)
    word, _, rest = said.decode("utf-8", "replace").strip().partition(" ")
    if word == "ready" and rest.isdigit():
        return Started("started", int(rest))
    if word == "running" and rest.isdigit():
        # Another start got there first: it binds its socket right after its lock.
        _wait_for(os.path.join(home, "daemon", "socket"), time.monotonic() + 10.0)
        return Started("running", int(rest))
    if word == "error" and rest:
        return Started("failed", message=rest)
    code = process.poll()
    if code is None:
        return Started("failed", message=f"it did not answer within {START_TIMEOUT_S:g} s")
    return Started("failed", message=f"it exited with status {code} before serving")


def _wait_for(path: str, deadline: float) -> None:
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)


def _read_all(fd: int, deadline: float) -> bytes:
    data = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return data
        chunk = os.read(fd, 4096)
        if not chunk:
            return data
        data += chunk
