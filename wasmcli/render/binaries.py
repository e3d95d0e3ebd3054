"""Rendering for the registry commands: the binaries table, the inspect report, codes.

Names inside a module (imports, exports, custom sections) are the plugin's text: they
are shown through `one_line`, so they cannot drive the terminal or break a row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wasmcli.render import styles
from wasmcli.render.console import diag_console
from wasmcli.render.formatting import format_bytes
from wasmcli.render.tables import new_table
from wasmcli.safe_text import one_line

if TYPE_CHECKING:  # importing them for real would load the wasm parser for `list`
    from wasmcli.runtime.inspect import InspectReport
    from wasmcli.store.registry import BinaryRecord, RegisterOutcome, RemoveOutcome


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


def register_note(outcome: RegisterOutcome, file_stem: str | None = None) -> None:
    """One line on stderr saying what `register` did; `file_stem` when the name came from
    the file name (so that a changed or missing name is explained)."""
    record = outcome.record
    label = outcome.name or record.id[:8]
    if outcome.created:
        line = f"Registered {label} ({format_bytes(record.size_bytes)}) as {record.id}"
    elif outcome.name_added:
        line = f"Already registered as {record.id}; added the name {outcome.name}"
    else:
        line = f"Already registered {label} ({format_bytes(record.size_bytes)}) as {record.id}"
    if outcome.name_moved_from:
        line += (
            f"; moved the name {outcome.name} from {outcome.name_moved_from[:8]} to {record.id[:8]}"
        )
    if file_stem is not None and outcome.name is not None and outcome.name != file_stem:
        line += f" (the file name {file_stem!r} is not a valid name)"
    diag_console().print(Text(line), soft_wrap=True)
    if file_stem is not None and outcome.name is None and not record.names:
        diag_console().print(
            Text(
                f"warning: no name: {file_stem!r} cannot be made a valid name; run it by "
                "id, or register it again with --name NAME"
            ),
            soft_wrap=True,
        )


def remove_note(outcome: RemoveOutcome) -> None:
    """One line on stderr saying exactly what `remove` removed."""
    record = outcome.record
    if not outcome.binary_removed:
        line = (
            f"Removed the name {', '.join(outcome.names_removed)}; binary {record.id[:8]} "
            f"keeps {', '.join(outcome.names_left)}"
        )
    else:
        removed = outcome.names_removed
        names = f" and its name{'s' if len(removed) > 1 else ''} {', '.join(removed)}"
        line = f"Removed binary {record.id}{names if removed else ''}; its traces are kept"
    diag_console().print(Text(line), soft_wrap=True)


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
