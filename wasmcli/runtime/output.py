"""Collecting a plugin's output: its host.log lines, checked for UTF-8, under the cap."""

from __future__ import annotations

from wasmcli.errors import ErrorKind, WasmcliError


def format_bytes(count: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count:,} bytes"


class OutputCollector:
    """Output = log lines joined with "\\n"; a line that would pass the cap stops the run."""

    def __init__(self, max_output: int) -> None:
        self.max_output = max_output
        self.lines: list[str] = []
        self.size = 0  # bytes of the joined output so far

    def check_room(self, size: int) -> None:
        """WasmcliError(IO) when a log line of `size` bytes would pass the cap. Engines
        ask this before they copy the line out of the plugin's memory, so a 64 MB line
        under a 1 MiB cap costs nothing."""
        added = size + (1 if self.lines else 0)
        if self.size + added > self.max_output:
            raise WasmcliError(
                ErrorKind.IO,
                f"Output exceeds the limit of {format_bytes(self.max_output)} "
                f"(log line {len(self.lines) + 1}); raise it with --max-output",
            )

    def add(self, raw: bytes) -> str:
        """Accept one log line; raises WasmcliError(IO) for bad UTF-8 or a full output."""
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WasmcliError(
                ErrorKind.IO,
                f"Plugin output is not valid UTF-8: log line {len(self.lines) + 1}, "
                f"byte {exc.start}: {exc.reason}",
            ) from None
        added = len(raw) + (1 if self.lines else 0)
        if self.size + added > self.max_output:  # inline: this is a plugin's hot path
            self.check_room(len(raw))
        self.lines.append(line)
        self.size += added
        return line

    @property
    def text(self) -> str:
        return "\n".join(self.lines)
