"""Connecting to a home's daemon: the socket, the peer's user, a socket left behind.

The standard library's C half (`_socket`) only: the client connects before anything
else is imported.
"""

import _socket
import os

from wasmcli.daemon import paths
from wasmcli.daemon.stale import remove_stale_socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class NoDaemon(Exception):
    """No daemon answers on the home's socket; `stale` when a socket it left was removed."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


def connect(folder: str) -> "Any":
    """A connected socket to the daemon whose folder is `folder`; NoDaemon otherwise."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    address, folder_fd = paths.socket_address(folder)
    try:
        sock.connect(address)
    except FileNotFoundError:
        sock.close()
        raise NoDaemon("no daemon runs for this home") from None
    except OSError as exc:
        sock.close()
        # Refused: the daemon that made the socket is gone (killed); it is cleared away.
        if remove_stale_socket(folder):
            gone = "its daemon is gone (the socket it left was removed)"
            raise NoDaemon(gone, stale=True) from None
        raise NoDaemon(f"its socket cannot be reached ({exc.strerror or exc})") from None
    finally:
        if folder_fd is not None:
            os.close(folder_fd)
    # The folder is the user's own; the peer's user is checked all the same before the
    # environment and the terminal are handed to it.
    from _struct import unpack

    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    _, uid, _ = unpack("3i", creds)
    if uid != os.getuid():
        sock.close()
        raise NoDaemon(f"its socket is served by user {uid}, not by you")
    return sock
