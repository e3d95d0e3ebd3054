"""Running wasmcli the way a person at a terminal does: in a pseudo-terminal of a given
size, so that colors, terminal detection and the window width are rich's own choices
and not a test's settings."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass(frozen=True)
class TerminalRun:
    exit_code: int
    screen: str  # everything written to the terminal, as bytes decoded (escapes kept)
    stdout: str  # stdout when it was a pipe (`stdout_to_pipe=True`), else ""

    @property
    def text(self) -> str:
        """The screen without color escapes and with plain newlines."""
        return _ANSI.sub("", self.screen).replace("\r\n", "\n")

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.text.splitlines()]


def run_in_terminal(
    *args: str,
    columns: int = 80,
    env: dict[str, str | None] | None = None,
    stdout_to_pipe: bool = False,
    timeout: float = 60.0,
) -> TerminalRun:
    """Run `python -m wasmcli ARGS` with stderr (and stdout, unless piped) on a terminal
    `columns` wide. `env` entries are added to the environment (None removes one);
    COLUMNS and LINES are removed so that the window size decides, as it does for a
    person."""
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    environment.setdefault("TERM", "xterm-256color")
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "wasmcli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if stdout_to_pipe else slave,
        stderr=slave,
        env=environment,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                # Drain what is left, then stop.
                while select.select([master], [], [], 0)[0]:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if not data:
                        break
                    chunks.append(data)
                break
        else:
            process.kill()
            raise AssertionError(f"wasmcli {' '.join(args)} did not finish in {timeout} s")
        stdout = process.stdout.read().decode("utf-8", "replace") if process.stdout else ""
        exit_code = process.wait(timeout=timeout)
    finally:
        os.close(master)
        if process.stdout:
            process.stdout.close()
    return TerminalRun(exit_code, b"".join(chunks).decode("utf-8", "replace"), stdout)
