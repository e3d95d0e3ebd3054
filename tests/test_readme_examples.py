"""The README's set-up and plugin-writing instructions do what they say: `make demo` stays
out of the user's home and installs no dev tools, and the two example plugins build
outside the repository (when the compilers are installed) and echo their input."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
WRITING = README.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]


def code_blocks(language: str = "") -> list[str]:
    """The fenced blocks of the section whose info string is `language`."""
    blocks: list[str] = []
    inside: str | None = None  # the info string of the block we are in
    lines: list[str] = []
    for line in WRITING.splitlines():
        if not line.startswith("```"):
            lines.append(line)
        elif inside is None:
            inside, lines = line[3:].strip(), []
        else:
            if inside == language:
                blocks.append("\n".join(lines) + "\n")
            inside = None
    return blocks


def commands() -> list[str]:
    """The build commands of the section (continuation lines joined)."""
    found = []
    for block in code_blocks():
        text = block.replace("\\\n", " ")
        found += [
            line.strip()
            for line in text.splitlines()
            if line.startswith(("/usr/bin/rustc", "clang"))
        ]
    return found


def test_the_two_examples_write_different_files_and_c_has_no_builtins() -> None:
    rustc, clang = commands()
    outputs = [re.search(r"-o (\S+\.wasm)", cmd).group(1) for cmd in (rustc, clang)]  # type: ignore[union-attr]
    assert outputs[0] != outputs[1]
    assert "-fno-builtin" in clang.split()
    assert "byte for byte" in WRITING and "echo -n" in WRITING


def test_make_demo_uses_a_home_inside_the_project_and_no_dev_tools() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "-B", "demo"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "[dev]" not in dry and "ruff" not in dry and "mypy" not in dry
    run = next(line for line in dry.splitlines() if "wasmcli" in line and " run " in line)
    home = Path(re.search(r"--home (\S+)", run).group(1))  # type: ignore[union-attr]
    assert home.is_relative_to(REPO)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(home / "wasmcli.db")], cwd=REPO, check=False
    )
    assert ignored.returncode == 0  # the demo's data never shows up as a change


def build_and_run(tmp_path: Path, source_name: str, source: str, command: str) -> str:
    folder = tmp_path / "my-plugin"  # outside the repository, as the README says
    folder.mkdir(exist_ok=True)
    shutil.copytree(REPO / "sample_plugins" / "sdk", folder / "sdk", dirs_exist_ok=True)
    (folder / source_name).write_text(source, encoding="utf-8")
    subprocess.run(command, shell=True, cwd=folder, check=True, capture_output=True)
    wasm = re.search(r"-o (\S+\.wasm)", command).group(1)  # type: ignore[union-attr]
    run = subprocess.run(
        [sys.executable, "-m", "wasmcli", "run", str(folder / wasm), "--input", "hi"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_the_rust_example_builds_and_echoes(tmp_path: Path) -> None:
    if not Path("/usr/bin/rustc").exists():
        pytest.skip("needs /usr/bin/rustc with the wasm32 target (rustc, libstd-rust-dev-wasm32)")
    (source,) = code_blocks("rust")
    rustc = commands()[0]
    try:
        assert build_and_run(tmp_path, "echo.rs", source, rustc) == "hi\n"
    except subprocess.CalledProcessError as exc:
        if b"wasm32-unknown-unknown" in exc.stderr:
            pytest.skip("rustc has no wasm32 target (libstd-rust-dev-wasm32)")
        raise


def test_the_c_example_builds_and_echoes(tmp_path: Path) -> None:
    if shutil.which("clang") is None or shutil.which("wasm-ld") is None:
        pytest.skip("needs clang and lld")
    (source,) = code_blocks("c")
    clang = commands()[1]
    assert build_and_run(tmp_path, "echo_c.c", source, clang) == "hi\n"
