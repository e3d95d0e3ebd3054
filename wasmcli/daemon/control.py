"""What `wasmcli daemon start|stop|status|restart` do: the library under cli/daemon_cmds.py.

Every daemon answers `status` and `stop`, whatever its version: those two frames are
the protocol's fixed part.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from wasmcli.daemon import paths, protocol
from wasmcli.daemon.connect import NoDaemon, connect
from wasmcli.daemon.identity import difference, identity
from wasmcli.daemon.launch import Started, start_daemon
from wasmcli.daemon.stale import lock_holder_alive

_ANSWER_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
MIN_IDLE_S = 1
MAX_IDLE_S = 7 * 24 * 3600
MAX_COMMANDS = 1024  # the most `--max-commands` allows (each is a process)


@dataclass(frozen=True)
class DaemonStatus:
    pid: int
    version: str
    home: str
    uptime_s: float
    served: int
    busy: int
    idle_s: float
    idle_for_s: float
    max_commands: int
    usable: bool  # this wasmcli and Python environment: the client uses it
    difference: str  # why not, when it is not usable

    def to_dict(self) -> dict[str, object]:
        return {
            "running": True,
            "pid": self.pid,
            "version": self.version,
            "home": self.home,
            "uptime_s": self.uptime_s,
            "served": self.served,
            "busy": self.busy,
            "idle_s": self.idle_s,
            "idle_for_s": self.idle_for_s,
            "max_commands": self.max_commands,
            "usable": self.usable,
        }


def folder_of(home: Path) -> Path:
    return Path(os.path.abspath(home)) / paths.FOLDER


def status(home: Path) -> DaemonStatus | None:
    """The home's daemon as it answers; None when none runs (a stale socket is removed)."""
    fields = _ask(folder_of(home), protocol.STATUS, protocol.STATE)
    if fields is None:
        return None
    decoded = protocol.decode_fields(fields)

    def text(key: str) -> str:
        return decoded.get(key, b"").decode("utf-8", "replace")

    def number(key: str) -> float:
        try:
            return float(text(key))
        except ValueError:
            return 0.0

    theirs = decoded.get("identity", b"")
    return DaemonStatus(
        pid=int(number("pid")),
        version=text("version"),
        home=text("home"),
        uptime_s=number("uptime_s"),
        served=int(number("served")),
        busy=int(number("busy")),
        idle_s=number("idle_s"),
        idle_for_s=number("idle_for_s"),
        max_commands=int(number("max_commands")),
        usable=theirs == identity(),
        difference="" if theirs == identity() else difference(theirs),
    )


def start(home: Path, idle_s: float, max_commands: int | None = None) -> Started:
    return start_daemon(str(Path(os.path.abspath(home))), idle_s, max_commands)


def stop(home: Path) -> int | None:
    """Stop the home's daemon and wait until it is gone; its pid, or None when none ran.
    Commands it is serving finish; only a daemon that does not stop is killed."""
    folder = folder_of(home)
    answer = _ask(folder, protocol.STOP, protocol.STOPPING)
    if answer is None:
        return None
    pid = int(answer) if answer.isdigit() else 0
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while lock_holder_alive(str(folder)):
        if time.monotonic() >= deadline:
            if pid > 0:
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    return pid


def _ask(folder: Path, kind: bytes, answer: bytes) -> bytes | None:
    """Send one frame, return the payload of the expected answer; None when no daemon
    answers (connection refused, closed, or past the timeout)."""
    try:
        sock = connect(str(folder))
    except NoDaemon:
        return None
    try:
        protocol.send_frame(sock, kind)
        reply = protocol.FrameReader(sock).read(
            protocol.MAX_REPLY_BYTES, time.monotonic() + _ANSWER_TIMEOUT_S
        )
    except (OSError, protocol.ProtocolError):
        return None
    finally:
        sock.close()
    if reply is None or reply[0] != answer:
        return None
    return reply[1]
