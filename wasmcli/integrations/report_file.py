"""Writing a report where the user pointed: a JUnit file, a `.prom` file for node_exporter.

Reports are read by other programs, often while wasmcli writes them (node_exporter reads
its textfile folder at every scrape; a CI step may upload a file left by the previous
one), so a report goes through the store's `open_user_file`, as exports do: a regular
file is replaced atomically (a reader sees the old report or the new one, never half of
one) with the mode a shell redirection would give it, so node_exporter, running as
another user, can read it; a FIFO or `/dev/stderr` is written to. The folder must exist,
and is checked before the run (`check_report_path`), so a typo costs no run.
"""

from __future__ import annotations

from pathlib import Path


def check_report_path(path: Path, option: str) -> str | None:
    """What is wrong with writing a report at `path` (a usage error's text), or None."""
    if path.is_dir():
        return f"{option} {path} is a folder: give a file name"
    if not path.parent.is_dir():
        return f"{option} {path}: the folder {path.parent} does not exist"
    return None


def write_report(path: Path, data: bytes) -> None:
    """Write `data` at `path` (replacing a regular file atomically); OSError on failure,
    and nothing is left behind."""
    from wasmcli.store.files import open_user_file

    with open_user_file(path) as out:
        out.write(data)
