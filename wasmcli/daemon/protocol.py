"""The daemon's wire protocol: length-prefixed frames on a Unix stream socket.

    frame   = length (4 bytes, big-endian; at most the reader's limit), then `length`
              bytes: a kind (1 byte) and its payload
    fields  = pairs of key (2-byte length, ASCII) and value (4-byte length, bytes)

A connection carries one exchange (docs/design.md, "The daemon", has the whole table):
- `R` (fields; with the client's stdin, stdout and stderr as SCM_RIGHTS) is answered by
  `A` (accepted: the serving process's pid), then `X` (the exit code) once the command
  has finished; or by `M` (another version or environment: the daemon's identity), `B`
  (busy) or `E` (a malformed request), after which nothing was run. After `A` the
  client sends `S` frames (a signal number) and closing the connection cancels the run.
- `?` is answered by `T` (the daemon's state as fields), `Z` by `K` (stopping: its pid).

The standard library's C halves only (`_socket`, `_struct`): the client imports this
before anything else, and `socket`'s enums cost it a millisecond.
"""

import _socket
import os
import time
from _struct import pack, unpack_from

TYPE_CHECKING = False  # typing itself costs the client a millisecond to import
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = b"1"
MAX_REQUEST_BYTES = 1 << 20  # argv, environment and the rest of a request
MAX_REPLY_BYTES = 1 << 16
MAX_CONTROL_BYTES = 16  # a frame after `A`: a signal
REQUEST_TIMEOUT_S = 10.0  # to deliver a whole request once connected
STDIO_FDS = 3

# client -> daemon
REQUEST = b"R"
SIGNAL = b"S"
STATUS = b"?"
STOP = b"Z"
# daemon -> client
ACCEPTED = b"A"
EXIT = b"X"
MISMATCH = b"M"
BUSY = b"B"
REFUSED = b"E"
STATE = b"T"
STOPPING = b"K"

_HEADER = 4
_SIGNAL_SLICE_S = 0.05


class ProtocolError(Exception):
    """A frame that breaks the protocol, or one that did not arrive in time."""


def encode_fields(fields: dict[str, bytes]) -> bytes:
    parts = []
    for key, value in fields.items():
        name = key.encode("ascii")
        parts.append(pack(">H", len(name)) + name + pack(">I", len(value)) + value)
    return b"".join(parts)


def decode_fields(payload: bytes) -> dict[str, bytes]:
    """The fields of a payload; ProtocolError for anything but a clean sequence of them."""
    fields: dict[str, bytes] = {}
    at, end = 0, len(payload)
    while at < end:
        if end - at < 2:
            raise ProtocolError("a field is cut short")
        (size,) = unpack_from(">H", payload, at)
        at += 2
        if size == 0 or end - at < size + 4:
            raise ProtocolError("a field is cut short")
        try:
            key = payload[at : at + size].decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError("a field name is not ASCII") from None
        at += size
        (length,) = unpack_from(">I", payload, at)
        at += 4
        if end - at < length:
            raise ProtocolError(f"field {key!r} is cut short")
        if key in fields:
            raise ProtocolError(f"field {key!r} is given twice")
        fields[key] = payload[at : at + length]
        at += length
    return fields


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    return pack(">I", 1 + len(payload)) + kind + payload


def send_frame(sock: "Any", kind: bytes, payload: bytes = b"", fds: tuple[int, ...] = ()) -> None:
    data = frame(kind, payload)
    if not fds:
        sock.sendall(data)
        return
    rights = pack(f"{len(fds)}i", *fds)
    sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)])
    if sent < len(data):
        sock.sendall(data[sent:])


class FrameReader:
    """Reads frames from one connection, holding each to a size limit and, when given, a
    deadline. The first read may take file descriptors (SCM_RIGHTS): at most `max_fds`
    are accepted, and any the caller does not take are closed."""

    def __init__(self, sock: "Any", max_fds: int = 0) -> None:
        self.sock = sock
        self.buffer = b""
        self.fds: list[int] = []
        self._max_fds = max_fds
        self._first = True

    def read(self, limit: int, deadline: float | None = None) -> tuple[bytes, bytes] | None:
        """The next frame's (kind, payload); None when the peer closed between frames."""
        if not self._fill(_HEADER, deadline):
            if self.buffer:
                raise ProtocolError("the connection closed inside a frame")
            return None
        (length,) = unpack_from(">I", self.buffer)
        if length == 0 or length > limit:
            raise ProtocolError(f"a frame of {length} bytes (the limit is {limit})")
        if not self._fill(_HEADER + length, deadline):
            raise ProtocolError("the connection closed inside a frame")
        body = self.buffer[_HEADER : _HEADER + length]
        self.buffer = self.buffer[_HEADER + length :]
        return body[:1], body[1:]

    def take_fds(self) -> list[int]:
        fds, self.fds = self.fds, []
        return fds

    def close_fds(self) -> None:
        for fd in self.take_fds():
            try:
                os.close(fd)
            except OSError:
                pass

    def _fill(self, size: int, deadline: float | None) -> bool:
        try:
            return self._fill_in_slices(size, deadline)
        finally:
            self.sock.settimeout(None)  # writes on this socket block as before

    def _fill_in_slices(self, size: int, deadline: float | None) -> bool:
        while len(self.buffer) < size:
            # Waits in slices, never one blocking wait: Python runs a signal's handler
            # between bytecodes, and one that lands just before a wait begins would
            # otherwise run only when something arrives (the client forwards Ctrl-C
            # from its handler while it waits for the exit code: seen, a run that went
            # on to its 120 s deadline). Each wait sets its own timeout, so a deadline
            # of an earlier read never cuts a later one short.
            wait = _SIGNAL_SLICE_S
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ProtocolError("the request did not arrive in time")
                wait = min(wait, remaining)
            self.sock.settimeout(wait)
            try:
                chunk = self._receive(max(size - len(self.buffer), 4096))
            except (TimeoutError, InterruptedError):
                continue  # a slice ended (the deadline, if any, is judged above)
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def _receive(self, size: int) -> bytes:
        if not self._first or not self._max_fds:
            return bytes(self.sock.recv(size))
        room = _socket.CMSG_SPACE(self._max_fds * 4)
        data, ancillary, flags, _ = self.sock.recvmsg(size, room)
        self._first = False  # only once something came: a wait that timed out tries again
        for level, kind, rights in ancillary:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                count = len(rights) // 4
                self.fds.extend(unpack_from(f"{count}i", rights))
        if flags & _socket.MSG_CTRUNC:
            self.close_fds()
            raise ProtocolError(f"more than {self._max_fds} file descriptors were sent")
        return bytes(data)
