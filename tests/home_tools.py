"""Helpers for tests that attack or damage a wasmcli home: the real console script, a
read-only view of a home, a full disk, and the cache's artifacts."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from wasmcli.store.cache import parse_artifact

from .test_subprocess import wasmcli_exe


def run_wasmcli(
    *args: str,
    env: dict[str, str] | None = None,
    umask: int | None = None,
    prefix: tuple[str, ...] = (),
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    """The installed `wasmcli` as a process (optionally under a umask, or a wrapper)."""
    set_umask: Callable[[], object] | None = None
    if umask is not None:
        mask = umask

        def set_umask() -> object:
            return os.umask(mask)

    return subprocess.run(
        [*prefix, wasmcli_exe(), *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        preexec_fn=set_umask,
    )


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


def read_only_runner(home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run wasmcli against `home` made read-only, as a read-only image or CI mount is.

    root ignores file modes, so as root the home is bind-mounted read-only in a private
    mount namespace (the real case); otherwise its files and folders lose their write bits.
    """
    if os.geteuid() == 0:
        if not _can_mount():
            pytest.skip("root without mount namespaces: cannot make a read-only home")
        script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        prefix: tuple[str, ...] = (
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            str(home),
        )
        return lambda *args, **kw: run_wasmcli("--home", str(home), *args, prefix=prefix, **kw)
    for path in [home, *home.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    return lambda *args, **kw: run_wasmcli("--home", str(home), *args, **kw)


def full_disk_runner(home: Path) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Run a shell script with `$WASMCLI` and `$HOME_DIR` on a 2 MiB file system that
    `fill` fills up (root with mount namespaces only)."""
    if not _can_mount():
        pytest.skip("needs root and mount namespaces to give wasmcli a full disk")

    def run(script: str) -> subprocess.CompletedProcess[str]:
        setup = (
            'mount -t tmpfs -o size=2m tmpfs "$HOME_DIR" && '
            'fill() { dd if=/dev/zero of="$HOME_DIR/filler" bs=4k 2>/dev/null; true; }; '
        )
        return subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", setup + script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "WASMCLI": wasmcli_exe(), "HOME_DIR": str(home)},
        )

    return run


def artifacts(home: Path) -> dict[str, Path]:
    """The cache's artifacts by the SHA-256 of the module each was compiled from."""
    found = {}
    for path in (home / "cache").rglob("*.bin"):
        parsed = parse_artifact(path.read_bytes())
        assert parsed is not None, f"{path} is not an artifact"
        found[parsed[0].module_sha256] = path
    return found


def module_sha(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]
