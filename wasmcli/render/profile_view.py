"""What `wasmcli traces profile` prints: the top functions by self fuel, with bars, then
the hottest call stacks. Names are the plugin's (untrusted) text: shown as plain text.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text

from wasmcli.humanize import format_duration, format_fuel
from wasmcli.profile.model import Profile, hottest_stacks
from wasmcli.render.tables import new_table
from wasmcli.safe_text import one_line

BAR_WIDTH = 12
_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(share: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of `share` (0 to 1) of `width` cells, in eighths."""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BLOCKS[part] if part else "")).ljust(width)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


class ProfileView:
    """The top `top` functions, then the hottest stacks."""

    def __init__(self, profile: Profile, top: int = 15, stacks: int = 5) -> None:
        self.profile = profile
        self.top = top
        self.stacks = stacks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        profile = self.profile
        whole = profile.fuel_attributed
        yield Text.assemble(
            ("Fuel profile ", "bold"),
            one_line(profile.label),
            f" · {profile.outcome} · {format_fuel(whole)} fuel in "
            f"{len(profile.functions)} functions, {len(profile.stacks)} stacks",
        )
        # Columns give way on a narrow terminal (times first, then the total's share),
        # so that the function names keep room.
        width = options.max_width
        times = width >= 120
        total_share = width >= 90
        table = new_table()
        table.add_column("function", overflow="fold", min_width=16, ratio=1)
        table.add_column("calls", justify="right", no_wrap=True)
        table.add_column("self fuel", justify="right", no_wrap=True)
        table.add_column("self %", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, style="magenta")
        table.add_column("total fuel", justify="right", no_wrap=True)
        if total_share:
            table.add_column("total %", justify="right", no_wrap=True)
        if times:
            table.add_column("self time", justify="right", no_wrap=True, style="dim")
            table.add_column("total time", justify="right", no_wrap=True, style="dim")
        for row in profile.functions[: self.top]:
            cells: list[Text | str] = [
                Text(one_line(row.name)),
                f"{row.calls:,}",
                format_fuel(row.self_fuel),
                _percent(row.self_fuel, whole),
                bar(row.self_fuel / whole if whole else 0, BAR_WIDTH if total_share else 8),
                format_fuel(row.total_fuel),
            ]
            if total_share:
                cells.append(_percent(row.total_fuel, whole))
            if times:
                cells += [format_duration(row.self_time_us), format_duration(row.total_time_us)]
            table.add_row(*cells)
        parts: list[Text | object] = [table]
        hidden = len(profile.functions) - self.top
        if hidden > 0:
            parts.append(Text(f"… {hidden} more functions (--top N, or --json)", style="dim"))
        hot = hottest_stacks(profile, self.stacks)
        if hot:
            parts.append(Text("Hottest stacks (self fuel)", style="bold"))
            for stack in hot:
                line = Text(
                    f"{format_fuel(stack.self_fuel):>14}  {_percent(stack.self_fuel, whole):>6}  "
                )
                line.append(one_line(" → ".join(stack.frames)))
                if stack.at_fault:
                    line.append("  ← fault", style="red")
                parts.append(line)
        if profile.fault_stack is not None:
            parts.append(
                Text(
                    f"Stopped ({profile.outcome}) in: "
                    + one_line(" → ".join(profile.fault_stack) or "[instantiation]"),
                    style="red",
                )
            )
        if profile.stacks_truncated:
            parts.append(
                Text(
                    f"{profile.stacks_truncated:,} calls past the stack table's bound were "
                    "counted in their deepest recorded stack (functions stay exact)",
                    style="yellow",
                )
            )
        parts.append(Text(f"time: {profile.time_note}", style="dim"))
        yield Group(*parts)  # type: ignore[arg-type]
