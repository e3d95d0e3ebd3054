"""The lock a running daemon holds, and the socket a killed one leaves behind.

The daemon's main process holds a POSIX lock on `<home>/daemon/lock` for as long as it
runs; the kernel drops it when the process ends, however it ends, and its children never
hold it (POSIX locks are not inherited). So whoever can take the lock knows that no
daemon runs, and may remove a socket file left behind. The standard library only.
"""

import errno
import os
import stat

from wasmcli.daemon import paths


def remove_stale_socket(folder: str) -> bool:
    """Remove the socket (and info file) of a daemon that is gone; False while one runs.

    Never call this (or `lock_holder_alive`) in the daemon's own process: closing any
    descriptor of the lock file drops the POSIX locks its process holds."""
    try:
        fd = os.open(os.path.join(folder, paths.LOCK), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        fd = None  # never locked: whatever is there is left over
    except OSError:
        return False
    try:
        if fd is not None and not _try_lock(fd):
            return False
        remove_socket_file(folder)
        try:
            os.unlink(os.path.join(folder, paths.INFO))
        except FileNotFoundError:
            pass
        return True
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def lock_holder_alive(folder: str) -> bool:
    """Whether a daemon holds the home's lock (runs, or is starting)."""
    try:
        fd = os.open(os.path.join(folder, paths.LOCK), os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    import fcntl

    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def remove_socket_file(folder: str) -> None:
    """Remove the socket file (only a socket: anything else there is left alone)."""
    path = os.path.join(folder, paths.SOCKET)
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
