"""wasmcli's own consoles: colors follow the terminal and NO_COLOR, per invocation."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from .conftest import SAMPLES, CliResult
from .terminal import run_in_terminal

TRAP = str(SAMPLES / "faulty" / "divide_by_zero.wasm")
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colors(screen: str) -> set[str]:
    """The color parameters of the SGR escapes in `screen` (30-49, 90-107, 38;..., 48;...).

    NO_COLOR is about color: bold, dim and italic may stay (no-color.org)."""
    found: set[str] = set()
    for match in _SGR.finditer(screen):
        params = match.group(1).split(";")
        i = 0
        while i < len(params):
            code = int(params[i] or 0)
            if code in (38, 48):  # extended color: 5;n or 2;r;g;b follow
                width = 3 if params[i + 1 : i + 2] == ["5"] else 5
                found.add(";".join(params[i : i + width]))
                i += width
                continue
            if 30 <= code <= 37 or 40 <= code <= 47 or 90 <= code <= 97 or 100 <= code <= 107:
                found.add(str(code))
            i += 1
    return found


def test_a_terminal_gets_colors() -> None:
    run = run_in_terminal("run", TRAP, env={"NO_COLOR": None})
    assert run.exit_code == 8
    assert colors(run.screen)  # the summary line is colored
    assert "✗ divide_by_zero · trap" in run.text


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_color_turns_colors_off_on_a_terminal(value: str) -> None:
    run = run_in_terminal("run", TRAP, "--trace", env={"NO_COLOR": value})
    assert run.exit_code == 8
    assert "ExecutionError" in run.text  # the timeline and its panel were drawn
    assert colors(run.screen) == set()
    assert "\x1b[1m" in run.screen  # bold is not a color: it stays


def test_no_color_applies_to_every_command(any_engine_cli: Callable[..., CliResult]) -> None:
    for args in (["run", TRAP], ["traces", "list"], ["traces", "show", "--last"], ["codes"]):
        run = run_in_terminal(*args, env={"NO_COLOR": "1"})
        assert run.exit_code in (0, 8), run.text
        assert colors(run.screen) == set(), args


def test_each_invocation_in_one_process_follows_its_own_environment(
    any_engine_cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long-lived process (a test runner, a daemon) serves many invocations: the first
    # one's NO_COLOR or terminal must not stick to the next ones.
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: treat the output as a terminal
    monkeypatch.delenv("NO_COLOR")
    assert colors(any_engine_cli("run", TRAP).stderr)
    monkeypatch.setenv("NO_COLOR", "1")
    assert colors(any_engine_cli("run", TRAP).stderr) == set()
    monkeypatch.delenv("NO_COLOR")
    assert colors(any_engine_cli("run", TRAP).stderr)
