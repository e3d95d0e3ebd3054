"""Where a home's daemon lives, and what an invocation's argv says before typer reads it.

`<home>/daemon/` (0700) holds the socket (0600), the lock the running daemon holds, its
`info.json`, its log, and `warmup/` (a home of its own, for the runs that warm the
daemon's processes). The standard library only: the client runs this before anything
else is imported.
"""

import os

from wasmcli.home_path import home_path

FOLDER = "daemon"
SOCKET = "socket"
LOCK = "lock"
INFO = "info.json"
LOG = "log"
WARMUP = "warmup"
# sun_path holds 108 bytes with its NUL; a longer socket path is reached through the
# folder's /proc/self/fd link (see `socket_address`).
MAX_SOCKET_PATH = 100


class Invocation:
    """What the client needs from argv: the command's name, the home asked for (the last
    `--home`, before or after the command, as the CLI reads it) and --verbose. (A plain
    class: dataclasses costs the client milliseconds to import.)"""

    __slots__ = ("command", "home", "verbose")

    def __init__(self, command: str | None, home: str | None, verbose: bool) -> None:
        self.command = command
        self.home = home
        self.verbose = verbose


def scan_argv(args: list[str]) -> Invocation:
    """Read argv (without argv[0]) the way the CLI's parser reads the parts the client
    needs. A value that only looks like an option (`--input --home`) can mislead it; the
    daemon then runs the invocation all the same (it reads argv itself), so a wrong
    guess costs speed, never a different result."""
    command: str | None = None
    home: str | None = None
    verbose = False
    index = 0
    while index < len(args):
        token = args[index]
        if token == "--":
            break
        if token == "--home":
            if index + 1 < len(args):
                home = args[index + 1]
            index += 2
            continue
        if token.startswith("--home="):
            home = token[len("--home=") :]
        elif token == "--verbose" and command is None:
            verbose = True
        elif command is None and not token.startswith("-"):
            command = token
        index += 1
    return Invocation(command=command, home=home or None, verbose=verbose)


def daemon_folder(home_option: str | None = None) -> str:
    """The absolute path of the home's daemon folder (the home resolved as the CLI does)."""
    return os.path.join(os.path.abspath(home_path(home_option)), FOLDER)


def socket_address(folder: str) -> tuple[str, int | None]:
    """The address to bind or connect to for the socket in `folder`, and a descriptor
    the caller closes afterwards (None when the plain path fits in sun_path)."""
    path = os.path.join(folder, SOCKET)
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path, None
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{SOCKET}", fd
