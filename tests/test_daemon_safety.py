"""What reaches the daemon's socket cannot hurt it: random frames, truncated frames, huge
lengths, requests that never finish arriving, other users. And the client stays thin:
nothing heavier than the standard library before it knows whether a daemon serves."""

from __future__ import annotations

import os
import random
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

from wasmcli.daemon import paths, protocol

from .conftest import SAMPLES
from .daemon_tools import Daemon, wasmcli_exe

HELLO = str(SAMPLES / "hello.wasm")
ANSWER_TIMEOUT_S = 30.0  # a refusal comes at once; this only keeps a broken daemon from hanging


def connect(daemon: Daemon) -> socket.socket:
    address, folder_fd = paths.socket_address(str(daemon.folder))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    finally:
        if folder_fd is not None:
            os.close(folder_fd)
    sock.settimeout(ANSWER_TIMEOUT_S)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the daemon says until it closes the connection."""
    data = b""
    while True:
        chunk = sock.recv(65536)  # raises TimeoutError if the daemon hangs
        if not chunk:
            return data
        data += chunk


def garbage(rng: random.Random) -> tuple[bytes, int]:
    """One hostile opening: (bytes to send, how many descriptors to send with them)."""
    choice = rng.randrange(9)
    fields = {"protocol": b"1", "argv": b"wasmcli\0run", "cwd": b"/"}
    if choice == 0:  # noise
        return rng.randbytes(rng.randrange(0, 4096)), 0
    if choice == 1:  # a length far past the limit
        return struct.pack(">I", rng.randrange(protocol.MAX_REQUEST_BYTES + 1, 2**32)), 0
    if choice == 2:  # a length of zero
        return struct.pack(">I", 0) + rng.randbytes(8), 0
    if choice == 3:  # a frame cut short
        body = protocol.REQUEST + rng.randbytes(rng.randrange(1, 200))
        return struct.pack(">I", len(body) + rng.randrange(1, 100)) + body, 0
    if choice == 4:  # a request of random fields
        return protocol.frame(protocol.REQUEST, rng.randbytes(rng.randrange(0, 300))), 3
    if choice == 5:  # well-formed fields, but not enough of them
        return protocol.frame(protocol.REQUEST, protocol.encode_fields(fields)), 3
    if choice == 6:  # the wrong number of descriptors
        return protocol.frame(protocol.REQUEST, protocol.encode_fields(fields)), rng.choice(
            [0, 1, 2, 4, 8]
        )
    if choice == 7:  # a kind nobody speaks (`Z`, stop, is a real request: not sent)
        kind = bytes([rng.choice([k for k in range(256) if bytes([k]) not in b"?Z"])])
        return protocol.frame(kind, rng.randbytes(rng.randrange(0, 50))), 0
    # fields whose lengths lie
    return protocol.frame(protocol.REQUEST, struct.pack(">H", 500) + b"argv"), 3


def test_random_frames_get_a_refusal_or_a_closed_connection(daemon: Daemon) -> None:
    rng = random.Random(20261127)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for _ in range(120):
            data, fds = garbage(rng)
            sock = connect(daemon)
            try:
                if fds:
                    sock.sendmsg(
                        [data or b"\0"],
                        [
                            (
                                socket.SOL_SOCKET,
                                socket.SCM_RIGHTS,
                                struct.pack(f"{fds}i", *[devnull] * fds),
                            )
                        ],
                    )
                elif data:
                    sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)
                said = answer(sock)
            except (BrokenPipeError, ConnectionResetError):
                said = b""
            finally:
                sock.close()
            if said:
                length = struct.unpack(">I", said[:4])[0]
                # Refused, or "not my wasmcli": either way nothing ran.
                assert said[4:5] in (protocol.REFUSED, protocol.MISMATCH), said
                assert len(said) == 4 + length, said
    finally:
        os.close(devnull)
    # Still up, still serving, and none of it counted as a command served.
    assert daemon.status()["served"] == 0
    assert daemon.run("run", HELLO, "-i", "x").stdout == b"Hello, x!\n"
    assert daemon.status()["served"] == 1


def test_a_request_past_the_size_limit_is_refused_unread(daemon: Daemon) -> None:
    sock = connect(daemon)
    sock.sendall(struct.pack(">I", protocol.MAX_REQUEST_BYTES + 1) + protocol.REQUEST)
    said = answer(sock)
    assert said[4:5] == protocol.REFUSED
    assert b"the limit is 1048576" in said


def test_a_request_that_never_finishes_arriving_is_dropped(daemon: Daemon) -> None:
    sock = connect(daemon)
    sock.sendall(struct.pack(">I", 100) + protocol.REQUEST + b"0123")
    started = time.monotonic()
    said = answer(sock)  # the connection stays open on our side
    waited = time.monotonic() - started
    assert said[4:5] == protocol.REFUSED and b"did not arrive in time" in said
    assert protocol.REQUEST_TIMEOUT_S - 1 <= waited < ANSWER_TIMEOUT_S
    assert daemon.run("run", HELLO, "-i", "x").returncode == 0


def test_another_user_is_not_answered(daemon: Daemon) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to connect as another user")
    # As if someone had loosened the modes: the peer check still stands.
    os.chmod(daemon.folder, 0o711)
    os.chmod(daemon.folder / "socket", 0o666)
    folder_fd = os.open(daemon.folder, os.O_PATH | os.O_DIRECTORY)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user: a forked copy of this test that becomes `nobody`
        try:
            os.setuid(65534)
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(f"/proc/self/fd/{folder_fd}/socket")
            sock.settimeout(ANSWER_TIMEOUT_S)
            sock.sendall(protocol.frame(protocol.STATUS))
            os.write(write_end, b"said:" + sock.recv(100))
        except BaseException as exc:  # noqa: BLE001
            os.write(write_end, repr(exc).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as result:
            said = result.read()
        os.waitpid(pid, 0)
    finally:
        os.close(folder_fd)
        os.chmod(daemon.folder / "socket", 0o600)
        os.chmod(daemon.folder, 0o700)
    # Connected, then closed without a word (a reset, when our frame was still unread).
    assert said == b"said:" or said.startswith(b"ConnectionResetError"), said
    assert daemon.status()["pid"] == daemon.pid()


# -- the client stays thin ---------------------------------------------------------------

# Nothing of these is imported before the client knows whether a daemon serves.
HEAVY = {
    "typer", "rich", "click", "wasmtime", "wasmer", "sqlite3", "json", "re", "enum",
    "typing", "dataclasses", "pathlib", "subprocess", "socket", "signal", "threading",
}  # fmt: skip


def imported_after_wasmcli(*args: str, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args], capture_output=True, text=True, env=env
    )
    names = re.findall(r"import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, re.M)
    return names[names.index("wasmcli") :] if "wasmcli" in names else []


def test_the_client_module_imports_only_the_standard_librarys_light_parts() -> None:
    names = imported_after_wasmcli("-c", "import wasmcli.daemon.client", env=dict(os.environ))
    assert names and not {name.split(".")[0] for name in names} & HEAVY, names


def test_a_served_command_imports_nothing_heavy_in_the_client(daemon: Daemon) -> None:
    env = daemon.environment("auto", None)
    names = imported_after_wasmcli(wasmcli_exe(), "run", HELLO, "-i", "x", env=env)
    assert "wasmcli.daemon.client" in names
    assert not {name.split(".")[0] for name in names} & HEAVY, names
    assert daemon.status()["served"] == 1
