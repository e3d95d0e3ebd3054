"""Rendering for the registry commands: the binaries table, the inspect report, codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wasmcli.render.console import diag_console
from wasmcli.render.formatting import format_bytes

if TYPE_CHECKING:  # importing them for real would load the wasm parser for `list`
    from wasmcli.runtime.inspect import InspectReport
    from wasmcli.store.registry import BinaryRecord, RegisterOutcome


def binaries_table(records: list[BinaryRecord]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("NAME")
    table.add_column("SIZE", justify="right", no_wrap=True)
    table.add_column("REGISTERED", no_wrap=True)
    table.add_column("SHA256", no_wrap=True, style="dim")
    for record in records:
        table.add_row(
            Text(record.id[:8]),
            Text(", ".join(record.names) or "-"),
            format_bytes(record.size_bytes),
            record.registered_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            Text(record.sha256[:12]),
        )
    return table


def register_note(outcome: RegisterOutcome) -> None:
    record = outcome.record
    what = "Registered" if outcome.created else "Already registered"
    line = Text(
        f"{what} {record.name or record.id[:8]} ({format_bytes(record.size_bytes)}) as {record.id}"
    )
    if outcome.name_moved_from:
        line.append(f"; the name {record.name!r} moved from {outcome.name_moved_from[:8]}")
    diag_console().print(line)


def inspect_view(report: InspectReport) -> RenderableType:
    parts: list[RenderableType] = []
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    header.add_row("binary", Text(f"{report.name or '-'}  {report.binary_id}"))
    header.add_row("sha256", report.sha256)
    header.add_row("size", f"{format_bytes(report.size_bytes)} ({report.size_bytes:,} bytes)")
    header.add_row("functions", str(report.function_count))
    if report.start_function is not None:
        header.add_row("start", f"function {report.start_function}")
    if report.custom_sections:
        header.add_row("custom", Text(", ".join(report.custom_sections)))
    parts.append(header)

    for title, items in (("Imports", report.imports), ("Exports", report.exports)):
        table = Table(title=title, title_justify="left", box=None, header_style="bold")
        if title == "Imports":
            table.add_column("MODULE")
        table.add_column("NAME")
        table.add_column("KIND")
        table.add_column("SIGNATURE")
        for item in items:
            row: list[Text] = [Text(item.name), Text(item.kind), Text(item.signature or "")]
            if title == "Imports":
                row.insert(0, Text(item.module or ""))
            table.add_row(*row)
        if not items:
            table.add_row(*(["-"] * len(table.columns)))
        parts.append(table)

    memories = Table(title="Memory", title_justify="left", box=None, header_style="bold")
    for column in ("INDEX", "INITIAL", "MAXIMUM", "EXPORTED AS"):
        memories.add_column(column)
    for memory in report.memories:
        memories.add_row(
            str(memory.index),
            _pages(memory.min_pages),
            "none" if memory.max_pages is None else _pages(memory.max_pages),
            ", ".join(memory.exported_as) or "-",
        )
    if not report.memories:
        memories.add_row("-", "-", "-", "-")
    parts.append(memories)

    limit_mb = report.memory_limit_bytes // (1024 * 1024)
    if report.abi_ok:
        parts.append(Text(f"ABI check: ok (memory limit {limit_mb} MB)", style="green"))
    else:
        verdict = Text("ABI check: failed", style="bold red")
        for problem in report.problems:
            verdict.append(f"\n  ✗ {problem.message} [{problem.kind.value}]", style="red")
        parts.append(verdict)
    return Group(*parts)


def _pages(count: int) -> str:
    return f"{count} page{'s' if count != 1 else ''} ({format_bytes(count * 65536)})"


def codes_tables() -> list[Table]:
    from wasmcli.errors import EXIT_CODES, KIND_DESCRIPTIONS
    from wasmcli.return_codes import RETURN_CODES

    plugin = Table(title="Plugin return codes", title_justify="left", header_style="bold")
    plugin.add_column("CODE", justify="right")
    plugin.add_column("NAME")
    plugin.add_column("MEANING")
    for rc in RETURN_CODES:
        plugin.add_row(str(rc.code), rc.name, rc.meaning)

    exits = Table(title="wasmcli exit codes", title_justify="left", header_style="bold")
    exits.add_column("EXIT", justify="right")
    exits.add_column("KIND")
    exits.add_column("MEANING")
    exits.add_row("0", "-", "plugin returned SUCCESS")
    for kind, code in EXIT_CODES.items():
        exits.add_row(str(code), kind.value, KIND_DESCRIPTIONS[kind])
    return [plugin, exits]
