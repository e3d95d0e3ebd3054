"""The two consoles: stdout for data, stderr for diagnostics (docs/design.md section 8).

Colors follow the terminal and NO_COLOR. Plugin output and JSON never go through these
consoles (no markup, no wrapping): the CLI writes them to stdout raw.

A console is made for each use, never cached: rich decides on colors and the terminal
when a Console is created, so a cached one would keep the first caller's NO_COLOR,
terminal and streams. A process that serves many invocations (tests, a daemon) gets
consoles that follow each invocation's environment and streams; making one costs about
0.1 ms.
"""

from __future__ import annotations

import errno
from typing import TextIO

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        # rich exits 1 when the reader leaves (`wasmcli codes | head -1`), which fails
        # `set -o pipefail` scripts; the CLI exits 0 quietly on a closed pipe instead.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def data_console(file: TextIO | None = None) -> Console:
    """A console on `file`, or on whatever sys.stdout is when it prints."""
    return _Console(file=file, highlight=False, soft_wrap=False)


def diag_console(file: TextIO | None = None) -> Console:
    """A console on `file`, or on whatever sys.stderr is when it prints."""
    return _Console(file=file, stderr=file is None, highlight=False, soft_wrap=False)
