"""A scratch copy of the working tree, for checks that change the code on purpose
(tests/break_promises.py, tests/mutate.py): the tree itself is never touched."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def tree_files() -> list[str]:
    """The working tree's files as they are: tracked and new ones, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    return [name for name in (item.decode() for item in listed) if (REPO / name).is_file()]


def sync_tree(target: Path) -> list[str]:
    """Make `target` hold the working tree's files; the names of those that changed."""
    changed = []
    for name in tree_files():
        source, copy = REPO / name, target / name
        if copy.is_file() and filecmp.cmp(source, copy, shallow=False):
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, copy)
        changed.append(name)
    return changed
