"""The thin client: the `wasmcli` command's first step, before typer, rich or an engine.

When the home has a live daemon of this same wasmcli and Python environment, the client
hands it the invocation: argv, the working directory, the environment, the umask, how
its standard streams are encoded, which stop signals it ignores, and the standard
streams themselves (their file descriptors, passed over the socket). The daemon's
process writes to the client's own stdout and stderr and reads its stdin, so output
reaches the terminal, pipe or file byte for byte and isatty, terminal size and colors
are the client's. The client forwards Ctrl-C, SIGTERM and SIGHUP, waits for the exit
code, and exits with it.

WASMCLI_DAEMON: `auto` (the default) uses a running daemon, `1` starts one when none
runs, `0` never uses one. Without a usable daemon the command runs in-process, exactly
as it would without this module; `wasmcli --verbose ...` says which way it went and why.
"""

import os
import sys

from wasmcli.daemon import paths

# No `from __future__ import annotations` in the client's modules, and typing only for
# the type checker: each is a module to import, on every command's path.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The signals a user stops a command with: passed on to the daemon's process.
_FORWARDED = (2, 15, 1)  # SIGINT, SIGTERM, SIGHUP
_OFF = ("0", "off", "no", "false")
_START = ("1", "on", "yes", "true")
# How long a daemon may take to take a request (it answers in milliseconds; a daemon
# that does not is broken, and the command fails rather than hangs).
_ACCEPT_TIMEOUT_S = 60.0


def serve_through_daemon(argv: list[str]) -> int | None:
    """Run the invocation in the home's daemon: its exit code, or None to run in-process."""
    raw_mode = os.environ.get("WASMCLI_DAEMON", "").strip().lower()
    if raw_mode in _OFF:
        return None
    if raw_mode not in ("", "auto", *_START):
        _stderr(f"error: invalid WASMCLI_DAEMON={raw_mode!r}: use auto, 1 or 0\n")
        return 2
    invocation = paths.scan_argv(argv[1:])
    if invocation.command == "daemon":
        return None  # `wasmcli daemon ...` manages the daemon: never through it
    try:
        folder = paths.daemon_folder(invocation.home)
    except OSError:
        return None  # no working folder to resolve the home in: the command will say so
    return _Client(argv, invocation, folder, start=raw_mode in _START).run()


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass


class _Client:
    def __init__(
        self, argv: list[str], invocation: paths.Invocation, folder: str, *, start: bool
    ) -> None:
        self.argv = argv
        self.invocation = invocation
        self.folder = folder
        self.start = start
        self.sock: Any = None
        self.accepted = False
        self.pending: list[int] = []  # signals that came before the daemon took the request
        self.saved: dict[int, Any] = {}

    def say(self, text: str) -> None:
        if self.invocation.verbose:
            _stderr(f"wasmcli: {text}\n")

    def in_process(self, why: str) -> None:
        self.say(f"running in-process: {why}")

    def run(self) -> int | None:
        try:
            return self._run()
        except Exception as exc:  # noqa: BLE001 - a bug here must not cost the command
            if self.accepted:
                _stderr(f"error: lost the wasmcli daemon: {type(exc).__name__}: {exc}\n")
                return 9  # ErrorKind.IO
            self.in_process(f"the daemon could not be used ({type(exc).__name__}: {exc})")
            self._fall_back()
            return None
        finally:
            self._restore_signals()
            if self.sock is not None:
                self.sock.close()

    def _run(self) -> int | None:
        # The one check every command pays when no daemon runs: a stat.
        if not os.path.exists(os.path.join(self.folder, paths.SOCKET)):
            if not self.start:
                self.in_process(f"no daemon runs for the home {os.path.dirname(self.folder)}")
                return None
            if not self._start_daemon():
                return None
        self.sock = self._connect()
        if self.sock is None:
            return None
        return self._serve()

    # -- finding the daemon -----------------------------------------------------------

    def _start_daemon(self) -> bool:
        from wasmcli.daemon.launch import start_daemon

        started = start_daemon(os.path.dirname(self.folder))
        if started.state == "failed":
            self.in_process(f"the daemon could not be started: {started.message}")
            return False
        return True

    def _connect(self) -> "Any":
        from wasmcli.daemon.connect import NoDaemon, connect

        try:
            return connect(self.folder)
        except NoDaemon as gone:
            if gone.stale and self.start and self._start_daemon():
                return self._connect()
            self.in_process(f"the daemon cannot be reached: {gone.reason}")
            return None

    # -- the request --------------------------------------------------------------------

    def _serve(self) -> int | None:
        from wasmcli.daemon import protocol

        request = self._request()
        if request is None:
            return None
        self._forward_signals()
        try:
            protocol.send_frame(self.sock, protocol.REQUEST, request, fds=(0, 1, 2))
        except OSError as exc:
            self.in_process(f"the daemon did not take the request ({exc.strerror or exc})")
            self._fall_back()
            return None
        reader = protocol.FrameReader(self.sock)
        try:
            reply = reader.read(protocol.MAX_REPLY_BYTES, _monotonic() + _ACCEPT_TIMEOUT_S)
        except (OSError, protocol.ProtocolError):
            reply = None
        if reply is None:
            self.in_process("the daemon closed the connection before taking the request")
            self._fall_back()
            return None
        kind, payload = reply
        if kind != protocol.ACCEPTED:
            self.in_process(_refusal(kind, payload))
            self._fall_back()
            return None
        self.accepted = True  # the daemon's process says so itself under --verbose
        for signum in self.pending:
            self._send_signal(signum)
        return self._wait_for_exit(reader)

    def _request(self) -> bytes | None:
        from wasmcli.daemon import protocol
        from wasmcli.daemon.identity import identity

        streams = (sys.stdin, sys.stdout, sys.stderr)
        try:
            for fd in (0, 1, 2):
                os.fstat(fd)
            cwd = os.getcwdb()
        except OSError as exc:
            # A closed standard stream or a removed working folder: the in-process
            # command has its own words for it.
            self.in_process(f"cannot hand over the working folder or streams ({exc.strerror})")
            return None
        if any(stream is None for stream in streams):
            self.in_process("a standard stream is closed")
            return None
        umask = os.umask(0o22)
        os.umask(umask)
        ignored = [
            str(signum) for signum in _FORWARDED if _signal().getsignal(signum) == _signal().SIG_IGN
        ]
        main = sys.modules.get("__main__")
        fields = {
            "protocol": protocol.PROTOCOL,
            "identity": identity(),
            "argv": b"\0".join(os.fsencode(arg) for arg in self.argv),
            "cwd": cwd,
            "env": b"\0".join(key + b"=" + value for key, value in os.environb.items()),
            "umask": str(umask).encode(),
            "stdio": "\0".join(f"{s.encoding}:{s.errors}" for s in streams).encode(),
            # -u or PYTHONUNBUFFERED: Python made stdout and stderr write through.
            "unbuffered": b"1" if getattr(sys.stdout, "write_through", False) else b"0",
            "ignored": ",".join(ignored).encode(),
            "main_package": (getattr(main, "__package__", None) or "").encode(),
            "verbose": b"1" if self.invocation.verbose else b"0",
        }
        payload = protocol.encode_fields(fields)
        if len(payload) + 1 > protocol.MAX_REQUEST_BYTES:
            self.in_process("the arguments and environment are too large for the daemon")
            return None
        return payload

    def _wait_for_exit(self, reader: "Any") -> int:
        from wasmcli.daemon import protocol

        while True:
            try:
                reply = reader.read(protocol.MAX_REPLY_BYTES)
            except (OSError, protocol.ProtocolError):
                reply = None
            if reply is None:
                _stderr(
                    "error: the wasmcli daemon stopped before the command finished; "
                    "the next call runs without it (or set WASMCLI_DAEMON=0)\n"
                )
                return 9  # ErrorKind.IO
            kind, payload = reply
            if kind == protocol.EXIT:
                try:
                    return int(payload)
                except ValueError:
                    return 9

    # -- signals ------------------------------------------------------------------------

    def _forward_signals(self) -> None:
        signal = _signal()
        for signum in _FORWARDED:
            handler = signal.getsignal(signum)
            if handler == signal.SIG_IGN:
                continue  # ignored (nohup, a background job): it stays ignored
            self.saved[signum] = handler
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.accepted:
            self._send_signal(signum)
        else:
            self.pending.append(signum)

    def _send_signal(self, signum: int) -> None:
        from wasmcli.daemon import protocol

        try:
            protocol.send_frame(self.sock, protocol.SIGNAL, bytes([signum]))
        except OSError:
            pass  # the daemon's process is gone: its EOF says so

    def _restore_signals(self) -> None:
        signal = _signal()
        saved, self.saved = self.saved, {}
        for signum, handler in saved.items():
            signal.signal(signum, handler)

    def _fall_back(self) -> None:
        """Run in-process after all; a stop signal that came meanwhile acts now, as it
        would have had it come while the in-process command started."""
        pending, self.pending = self.pending, []
        self._restore_signals()
        for signum in pending:
            os.kill(os.getpid(), signum)


def _refusal(kind: bytes, payload: bytes) -> str:
    from wasmcli.daemon import protocol

    if kind == protocol.MISMATCH:
        from wasmcli.daemon.identity import difference

        return f"the daemon runs another wasmcli or Python environment ({difference(payload)})"
    if kind == protocol.BUSY:
        return "the daemon is busy with as many commands as it runs at once"
    text = payload.decode("utf-8", "replace")
    return f"the daemon refused the request ({text})"


def _signal() -> "Any":
    import _signal  # type: ignore[import-not-found]  # signal's C half, without its enums

    return _signal


def _monotonic() -> float:
    import time

    return time.monotonic()
