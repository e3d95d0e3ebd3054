"""The daemon's frame reader on its own: how it waits.

The client waits for the exit code, and the serving process for signal frames, for as
long as a command runs. Those waits must let a signal's handler run (the client forwards
Ctrl-C from it) and must not inherit a deadline from an earlier read.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

from wasmcli.daemon import protocol


def test_a_read_without_deadline_waits_past_an_earlier_reads_deadline() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        reader = protocol.FrameReader(ours)
        theirs.sendall(protocol.frame(protocol.ACCEPTED, b"1"))
        assert reader.read(64, time.monotonic() + 0.3) == (protocol.ACCEPTED, b"1")
        # A command that prints nothing for longer than the accept deadline was.
        later = threading.Timer(1.0, theirs.sendall, [protocol.frame(protocol.EXIT, b"0")])
        later.start()
        assert reader.read(64) == (protocol.EXIT, b"0")
        later.join()


def test_a_signal_handled_by_another_thread_runs_its_handler_while_a_read_waits() -> None:
    """As when a signal lands just before the wait begins: the C handler has run, and
    Python runs the Python handler at the main thread's next check, which a single
    blocking wait would put off until something arrives."""
    ours, theirs = socket.socketpair()

    def answer_from_handler(signum: int, frame: object) -> None:
        theirs.sendall(protocol.frame(protocol.EXIT, b"handled"))

    def send_later() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
        time.sleep(0.5)
        signal.raise_signal(signal.SIGUSR1)  # this thread takes it: the main one blocks it
        time.sleep(10)
        try:
            theirs.sendall(protocol.frame(protocol.EXIT, b"fallback"))  # ends a broken test
        except OSError:
            pass  # the test is over

    previous = signal.signal(signal.SIGUSR1, answer_from_handler)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    try:
        with ours, theirs:
            threading.Thread(target=send_later, daemon=True).start()
            assert protocol.FrameReader(ours).read(64) == (protocol.EXIT, b"handled")
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR1])
        signal.signal(signal.SIGUSR1, previous)
