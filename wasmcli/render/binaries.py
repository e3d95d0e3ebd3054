"""Rendering for the registry commands: the binaries table, the inspect report, codes.

Names inside a module (imports, exports, custom sections) are the plugin's text: they
are shown through `one_line`, so they cannot drive the terminal or break a row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.console import diag_console
from wasmcli.render.formatting import format_bytes
from wasmcli.render.safe_text import one_line
from wasmcli.render.tables import new_table

if TYPE_CHECKING:  # importing them for real would load the wasm parser for `list`
    from wasmcli.runtime.inspect import InspectReport
    from wasmcli.store.registry import BinaryRecord, RegisterOutcome


def binaries_table(records: list[BinaryRecord]) -> Table:
    table = new_table()
    table.add_column("id", no_wrap=True, style=styles.ID_STYLE)
    table.add_column("name")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("registered", no_wrap=True)
    table.add_column("sha256", no_wrap=True, style=styles.DETAIL_STYLE)
    for record in records:
        table.add_row(
            Text(record.id[:8]),
            Text(one_line(", ".join(record.names)) or "-"),
            format_bytes(record.size_bytes),
            record.registered_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            Text(record.sha256[:12]),
        )
    return table


def register_note(outcome: RegisterOutcome, console: Console | None = None) -> None:
    """The note `register` writes on stderr (or on `console`)."""
    record = outcome.record
    what = "Registered" if outcome.created else "Already registered"
    name = one_line(record.name) if record.name else record.id[:8]
    line = Text(f"{what} {name} ({format_bytes(record.size_bytes)}) as {record.id}")
    if outcome.name_moved_from:
        line.append(
            f"; the name {one_line(record.name or '')!r} moved from {outcome.name_moved_from[:8]}"
        )
    (console or diag_console()).print(line)


def inspect_view(report: InspectReport) -> RenderableType:
    parts: list[RenderableType] = []
    header = Table.grid(padding=(0, 2))
    header.add_column(style=styles.LABEL_STYLE)
    header.add_column(overflow="fold")
    header.add_row("binary", Text(f"{one_line(report.name or '-')}  {report.binary_id}"))
    header.add_row("sha256", report.sha256)
    header.add_row("size", f"{format_bytes(report.size_bytes)} ({report.size_bytes:,} bytes)")
    header.add_row("functions", str(report.function_count))
    if report.start_function is not None:
        header.add_row("start", f"function {report.start_function}")
    if report.custom_sections:
        header.add_row("custom", Text(one_line(", ".join(report.custom_sections))))
    if report.proposals:
        header.add_row("proposals", ", ".join(report.proposals))
    parts.append(header)

    for title, items in (("Imports", report.imports), ("Exports", report.exports)):
        table = new_table(title)
        if title == "Imports":
            table.add_column("module", overflow="fold")
        table.add_column("name", overflow="fold")
        table.add_column("kind")
        table.add_column("signature", overflow="fold")
        for item in items:
            row: list[Text] = [
                Text(one_line(item.name)),
                Text(item.kind),
                Text(one_line(item.signature or "")),
            ]
            if title == "Imports":
                row.insert(0, Text(one_line(item.module or "")))
            table.add_row(*row)
        if not items:
            table.add_row(*(["-"] * len(table.columns)))
        parts.append(Text())
        parts.append(table)

    memories = new_table("Memory")
    for column in ("index", "initial", "maximum", "exported as"):
        memories.add_column(column)
    for memory in report.memories:
        memories.add_row(
            str(memory.index),
            _pages(memory.min_pages),
            "none" if memory.max_pages is None else _pages(memory.max_pages),
            Text(one_line(", ".join(memory.exported_as)) or "-"),
        )
    if not report.memories:
        memories.add_row("-", "-", "-", "-")
    parts.append(Text())
    parts.append(memories)

    limit_mb = report.memory_limit_bytes // (1024 * 1024)
    parts.append(Text())
    if report.abi_ok:
        parts.append(Text(f"ABI check: ok (memory limit {limit_mb} MB)", style=styles.OK_STYLE))
    else:
        verdict = Text("ABI check: failed", style=styles.FAIL_STYLE)
        for problem in report.problems:
            verdict.append(f"\n  ✗ {one_line(problem.message)} [{problem.kind.value}]", style="red")
        parts.append(verdict)
    return Group(*parts)


def _pages(count: int) -> str:
    return f"{count} page{'s' if count != 1 else ''} ({format_bytes(count * 65536)})"


def codes_tables() -> list[Table]:
    from wasmcli.errors import EXIT_CODES, KIND_DESCRIPTIONS
    from wasmcli.return_codes import RETURN_CODES

    plugin = new_table("Plugin return codes")
    plugin.add_column("code", justify="right")
    plugin.add_column("name")
    plugin.add_column("meaning")
    for rc in RETURN_CODES:
        plugin.add_row(str(rc.code), rc.name, rc.meaning)

    exits = new_table("wasmcli exit codes")
    exits.add_column("exit", justify="right")
    exits.add_column("kind")
    exits.add_column("meaning")
    exits.add_row("0", "-", "plugin returned SUCCESS")
    for kind, code in EXIT_CODES.items():
        exits.add_row(str(code), kind.value, KIND_DESCRIPTIONS[kind])
    return [plugin, exits]
