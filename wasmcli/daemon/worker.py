"""One of the daemon's forked processes: it warms up, takes one connection, serves it,
and exits.

Why a process per request, and not a thread: a command uses what a process has once
(the working folder, the environment, the umask, sys.stdout and sys.stderr, signal
handlers, typer's and rich's module state), and so does the code it calls. A forked
process gets a copy of the daemon's warm state and nothing of any other request's, so
isolation holds by construction, for every command, including commands added later.
The copy is cheap: the pages are shared until written, and the warm-up
(`warmup.prewarm`) writes the usual ones before the request comes.

A request then runs as the same command would in the client's process: its argv,
working folder, environment (the client's, whole: TZ, TERM, PATH for alert hooks and
HOME for the default home matter as much as the WASMCLI_* variables), umask, stop
signals (ignored where the client ignores them), and its standard streams: the client's
own file descriptors, so isatty, the terminal's size and every byte written are the
client's. A thread reads the connection meanwhile: a signal frame is raised in the main
thread (as the kernel would have delivered it to the client), and the client's
disappearance stops the command as a Ctrl-C does (the run's trace is kept, kind
`interrupted`), its output going to /dev/null.
"""

from __future__ import annotations

import atexit
import codecs
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from wasmcli.daemon import protocol
from wasmcli.daemon.identity import identity
from wasmcli.daemon.protocol import ProtocolError
from wasmcli.daemon.stdio import adopt_streams, silence_streams

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class WarmState:
    """What the daemon's main process hands to each process it forks."""

    root: Any  # the CLI's root command, every command built
    home: Path
    log_fd: int  # the daemon's log (fd 2 becomes the client's stderr)
    warmup_plugin: Path | None
    status: Any  # () -> dict[str, bytes], the daemon's state for `daemon status`


def serve_one(listener: socket.socket, channel: socket.socket, state: WarmState) -> NoReturn:
    """Wait for a connection (or for the daemon to stop), serve it, exit."""
    if state.warmup_plugin is not None:
        from wasmcli.daemon.warmup import prewarm

        prewarm(state.root, state.warmup_plugin, state.home, lambda: _readable(listener, 0))
    conn = _take_connection(listener, channel)
    listener.close()
    if not same_user(conn):
        conn.close()  # another user: nothing is said to it
        os._exit(0)
    channel.sendall(b"c")  # taken: the daemon forks another to wait in our place
    _Request(conn, channel, state).serve()


def _readable(sock: socket.socket, timeout: float) -> bool:
    return bool(select.select([sock], [], [], timeout)[0])


def _take_connection(listener: socket.socket, channel: socket.socket) -> socket.socket:
    while True:
        ready, _, _ = select.select([listener, channel], [], [])
        if channel in ready:
            os._exit(0)  # the daemon stops (or died): a waiting process goes with it
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            continue  # another waiting process took it
        conn.setblocking(True)
        return conn


def same_user(conn: socket.socket) -> bool:
    from _struct import unpack

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    _, uid, _ = unpack("3i", creds)
    return bool(uid == os.getuid())


@dataclass
class _Invocation:
    argv: list[str]
    cwd: bytes
    env: list[tuple[bytes, bytes]]
    umask: int
    encodings: list[tuple[str, str]]
    unbuffered: bool
    ignored: set[int]
    main_package: str
    verbose: bool

    @classmethod
    def parse(cls, fields: dict[str, bytes]) -> _Invocation:
        try:
            argv = [os.fsdecode(arg) for arg in fields["argv"].split(b"\0")]
            env = [tuple(item.split(b"=", 1)) for item in fields["env"].split(b"\0") if item]
            encodings = [
                tuple(item.split(":", 1)) for item in fields["stdio"].decode("ascii").split("\0")
            ]
            invocation = cls(
                argv=argv,
                cwd=fields["cwd"],
                env=[(key, value) for key, value in env if key],
                umask=int(fields["umask"]),
                encodings=encodings,  # type: ignore[arg-type]
                unbuffered=fields["unbuffered"] == b"1",
                ignored={int(n) for n in fields["ignored"].decode("ascii").split(",") if n},
                main_package=fields["main_package"].decode("ascii"),
                verbose=fields["verbose"] == b"1",
            )
        except KeyError as missing:
            raise ProtocolError(f"field {missing} is missing") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"a field is malformed ({exc})") from None
        invocation.check()
        return invocation

    def check(self) -> None:
        if not self.argv[0] or not self.cwd or not 0 <= self.umask <= 0o777:
            raise ProtocolError("argv, cwd or umask is malformed")
        if any(len(pair) != 2 for pair in self.env):
            raise ProtocolError("an environment entry has no '='")
        if len(self.encodings) != 3 or any(len(pair) != 2 for pair in self.encodings):
            raise ProtocolError("stdio needs the encoding and errors of three streams")
        try:
            for encoding, errors in self.encodings:
                codecs.lookup(encoding)
                codecs.lookup_error(errors)
        except LookupError as exc:
            raise ProtocolError(str(exc)) from None
        if not self.ignored <= {int(s) for s in _STOP_SIGNALS}:
            raise ProtocolError("ignored names a signal that is not a stop signal")


class _Request:
    def __init__(self, conn: socket.socket, channel: socket.socket, state: WarmState) -> None:
        self.conn = conn
        self.channel = channel
        self.state = state
        self.finished = threading.Event()

    def serve(self) -> NoReturn:
        code = 0
        try:
            self._serve()
        except BaseException:  # noqa: BLE001 - a bug here must not leave the client waiting
            code = 1
            _log_exception(self.state.log_fd)
        finally:
            os._exit(code)

    def _serve(self) -> None:
        reader = protocol.FrameReader(self.conn, max_fds=protocol.STDIO_FDS)
        try:
            frame = reader.read(
                protocol.MAX_REQUEST_BYTES, time.monotonic() + protocol.REQUEST_TIMEOUT_S
            )
            if frame is None:
                return  # connected and left
            self.conn.settimeout(None)  # the request's deadline is not the command's
            kind, payload = frame
            if kind == protocol.STATUS:
                self._reply(protocol.STATE, protocol.encode_fields(self.state.status()))
            elif kind == protocol.STOP:
                self.channel.sendall(b"z")
                self._reply(protocol.STOPPING, str(os.getppid()).encode())
            elif kind == protocol.REQUEST:
                self._run(reader, payload)
            else:
                raise ProtocolError(f"unknown request kind {kind!r}")
        except ProtocolError as exc:
            self._reply(protocol.REFUSED, str(exc).encode("utf-8", "replace"))
        finally:
            reader.close_fds()

    def _reply(self, kind: bytes, payload: bytes = b"") -> None:
        try:
            protocol.send_frame(self.conn, kind, payload)
        except OSError:
            pass  # the client left

    def _run(self, reader: protocol.FrameReader, payload: bytes) -> None:
        fds = reader.take_fds()
        try:
            if len(fds) != protocol.STDIO_FDS:
                raise ProtocolError(f"a request needs {protocol.STDIO_FDS} file descriptors")
            fields = protocol.decode_fields(payload)
            if fields.get("protocol") != protocol.PROTOCOL:
                raise ProtocolError("this daemon speaks protocol 1")
            mine = identity()
            if fields.get("identity") != mine:
                self._reply(protocol.MISMATCH, mine)
                return
            invocation = _Invocation.parse(fields)
            if _hung_up(self.conn):
                return  # the client gave up waiting: it runs the command itself
            try:
                os.chdir(invocation.cwd)
            except OSError as exc:
                raise ProtocolError(f"cannot enter the working folder: {exc.strerror}") from None
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self.channel.sendall(b"r")  # a command served
        _adopt(invocation, fds)
        self._reply(protocol.ACCEPTED, str(os.getpid()).encode())
        if invocation.verbose:
            sys.stderr.write(f"wasmcli: served by the daemon (pid {os.getpid()})\n")
            sys.stderr.flush()
        threading.Thread(target=self._watch, name="wasmcli-client", daemon=True).start()
        code = _finish_like_python(_invoke(self.state.root))
        self.finished.set()
        for signum in _STOP_SIGNALS:  # done: a late signal must not cut the answer short
            signal.signal(signum, signal.SIG_IGN)
        self._reply(protocol.EXIT, str(code).encode())

    def _watch(self) -> None:
        """Pass the client's signals to the main thread; stop the command when the client
        goes away."""
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        main = threading.main_thread().ident or 0
        reader = protocol.FrameReader(self.conn)
        while True:
            try:
                frame = reader.read(protocol.MAX_CONTROL_BYTES)
            except (OSError, ProtocolError):
                frame = None
            if self.finished.is_set():
                return
            if frame is not None and frame[0] == protocol.SIGNAL and len(frame[1]) == 1:
                signum = frame[1][0]
                if signum in _STOP_SIGNALS:
                    signal.pthread_kill(main, signum)
                continue
            # Gone (or talking nonsense): what it would have seen goes nowhere now, and
            # the command stops as at a Ctrl-C.
            silence_streams()
            signal.pthread_kill(main, signal.SIGINT)
            return


def _hung_up(conn: socket.socket) -> bool:
    poller = select.poll()
    poller.register(conn, select.POLLRDHUP)
    return bool(poller.poll(0))


def _adopt(invocation: _Invocation, fds: list[int]) -> None:
    """Make this process the client's, for the command (see the module docstring)."""
    os.umask(invocation.umask)
    os.environ.clear()
    for key, value in invocation.env:
        try:
            os.environb[key] = value
        except ValueError:
            pass  # a name putenv refuses; Python would not have listed it either
    time.tzset()
    if "tempfile" in sys.modules:
        setattr(sys.modules["tempfile"], "tempdir", None)  # noqa: B010 - again from TMPDIR
    sys.argv = invocation.argv
    main = sys.modules["__main__"]
    # click names the program after `python -m PACKAGE` when __main__ has a package.
    main.__package__ = invocation.main_package or None
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        ignored = int(signum) in invocation.ignored
        signal.signal(signum, signal.SIG_IGN if ignored else signal.SIG_DFL)
    adopt_streams(fds, invocation.encodings, invocation.unbuffered)


def _invoke(root: Any) -> int:
    """Run the CLI as `wasmcli.cli.main` does in-process (`app()`: the root command's
    main, which turns every ending into an exit code)."""
    try:
        root.main(prog_name=None)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _finish_like_python(code: int) -> int:
    """What Python does at exit, in its order: wait for the threads, run the atexit
    callbacks, flush stdout (a failure is exit 120, as CPython makes it) and stderr."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
    except Exception as exc:  # noqa: BLE001
        _unraisable(sys.stdout, exc)
        code = 120
    try:
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass
    return code


def _unraisable(stream: object, exc: BaseException) -> None:
    try:
        sys.stderr.write(f"Exception ignored in: {stream!r}\n{type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001
        pass


def _log_exception(log_fd: int) -> None:
    try:
        import traceback

        text = traceback.format_exc()
        os.write(log_fd, f"[pid {os.getpid()}] {text}".encode("utf-8", "replace"))
    except Exception:  # noqa: BLE001
        pass
