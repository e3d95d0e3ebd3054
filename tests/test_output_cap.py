"""The output cap (`--max-output`): a plugin's log lines, joined with newlines, may
reach the cap exactly; the line that would pass it stops the run, named in one line."""

from __future__ import annotations

import pytest

from wasmcli.errors import ErrorKind, WasmcliError
from wasmcli.runtime.output import OutputCollector, format_bytes

from .conftest import plugin_wat

# Logs "one", "" and "tw": "one\n\ntw", 7 bytes.
THREE_LINES = plugin_wat(
    "(call $log (i32.const 0) (i32.const 3)) (call $log (i32.const 3) (i32.const 0))"
    " (call $log (i32.const 3) (i32.const 2)) (i32.const 0)",
    extra='(data (i32.const 0) "onetw")',
)


@pytest.mark.parametrize(
    ("cap", "stopped_at"), [(7, None), (6, 3), (4, 3), (3, 2), (2, 1)], ids=lambda v: f"{v}"
)
def test_the_output_may_reach_the_cap_exactly(cli, wat_file, cap: int, stopped_at) -> None:
    result = cli("run", str(wat_file(THREE_LINES)), "--max-output", str(cap), "--json")
    if stopped_at is None:
        assert result.exit_code == 0, result
        assert result.json()["output"] == "one\n\ntw"
        return
    assert result.exit_code == 9
    assert result.json()["error"]["message"] == (
        f"Output exceeds the limit of {cap} bytes (log line {stopped_at}); "
        "raise it with --max-output"
    )


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (64, "64 bytes"),
        (1000, "1,000 bytes"),
        (1024, "1 KiB"),
        (1536, "1,536 bytes"),
        (3072, "3 KiB"),
        (1025 * 1024, "1025 KiB"),
        (1024**2, "1 MiB"),
        (3 * 1024**2, "3 MiB"),
        (1024**3, "1 GiB"),
        (2 * 1024**3, "2 GiB"),
    ],
)
def test_the_cap_is_named_in_the_unit_it_was_given_in(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_collecting_lines_directly_holds_the_cap_too() -> None:
    # The library's collector, without an engine asking `check_room` first.
    output = OutputCollector(7)
    for line in (b"one", b"", b"tw"):
        output.add(line)
    assert (output.text, output.size) == ("one\n\ntw", 7)
    with pytest.raises(WasmcliError) as caught:
        output.add(b"")  # its newline alone passes the cap
    assert caught.value.kind is ErrorKind.IO
    assert caught.value.message == (
        "Output exceeds the limit of 7 bytes (log line 4); raise it with --max-output"
    )


def test_room_is_checked_before_a_line_is_copied() -> None:
    output = OutputCollector(5)
    output.check_room(5)  # a first line needs no newline before it
    output.add(b"abc")
    output.check_room(1)  # "\n" and 1 byte: 5
    with pytest.raises(WasmcliError) as caught:
        output.check_room(2)
    assert "(log line 2)" in caught.value.message
