"""`traces list` draws its rows itself (rich's Table cost ~0.1 ms per cell, more than the
rest of the command for 100 traces); what it draws must stay what rich's Table draws in
wasmcli's table style, character for character and style for style, at every width."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table

from tests.trace_samples import all_samples, eastern_time  # noqa: F401 - a fixture
from wasmcli.render import trace_table
from wasmcli.render.trace_table import TracesTable, traces_table


def styled_chars(renderable: object, width: int) -> list[tuple[str, str]]:
    """Each character printed, with its style (spaces: none, as nothing shows there)."""
    console = Console(
        file=io.StringIO(), width=width, color_system="truecolor", force_terminal=True
    )
    return [
        (char, str(segment.style or "") if not char.isspace() else "")
        for segment in console.render(renderable, console.options)
        for char in segment.text
    ]


def through_rich(self: TracesTable, console: Console, options: ConsoleOptions) -> RenderResult:
    """TracesTable.__rich_console__ as it was: every row through rich's own Table."""
    if self._fitted_to is None or self._fitted_to > options.max_width:
        if trace_table._natural_width(self._rows, self._layout) > options.max_width:
            yield TracesTable(self._traces, options.max_width)
            return
    yield from Table.__rich_console__(self, console, options)


def many_traces() -> list:
    samples = all_samples()
    long_name = replace(samples[0], binary_name="a-plugin-with-a-name-far-too-long-to-show")
    return [*samples, long_name, *samples]


@pytest.mark.parametrize("count", [0, 1, 3, None])
def test_rows_are_drawn_as_rich_draws_them(
    count: int | None,
    eastern_time: None,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    traces = many_traces()[:count]
    for width in range(24, 190, 3):
        for fitted in (None, width):
            ours = styled_chars(traces_table(traces, fitted), width)
            with monkeypatch.context() as patch:
                patch.setattr(TracesTable, "__rich_console__", through_rich)
                theirs = styled_chars(traces_table(traces, fitted), width)
            assert ours == theirs, (count, width, fitted)
