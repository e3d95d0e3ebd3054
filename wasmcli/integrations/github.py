"""GitHub Actions: an error annotation per failed run, and the job summary.

Inside a GitHub Actions job (`GITHUB_ACTIONS=true`, or `--ci github`):

- every failed run prints one workflow command on stderr,
  `::error title=wasmcli: hello failed (trap)::Plugin trapped: ...`, which GitHub shows as
  an annotation on the run and the pull request. The message escapes `%`, CR and LF as
  GitHub decodes them; the title, a property, also escapes `:` and `,`.
- when `GITHUB_STEP_SUMMARY` names a file, a Markdown table of the runs (outcome, return
  code, fuel, duration, trace id) is appended to it; GitHub renders it on the job's page.
  Text a plugin controls is escaped so it cannot break the table or add markup. A large
  batch lists its failed runs first, up to `MAX_SUMMARY_ROWS` rows; sections stop being
  added before the file reaches GitHub's 1 MiB limit, past which GitHub shows none.

`--ci none` turns both off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, TextIO

from wasmcli.integrations.records import RunRecord

CI_MODES: Final = ("auto", "github", "none")
MAX_SUMMARY_ROWS: Final = 200
MAX_CELL_CHARS: Final = 300
MISSING: Final = "—"
# GitHub refuses a step summary above 1 MiB (all of it); wasmcli leaves room for others.
SUMMARY_LIMIT_BYTES: Final = 1024 * 1024
SUMMARY_BUDGET_BYTES: Final = SUMMARY_LIMIT_BYTES - 16 * 1024
SUMMARY_FULL: Final = (
    b"\n> wasmcli: this step's summary is near GitHub's 1 MiB limit; "
    b"later runs are not added (their traces are stored).\n\n"
)


def github_enabled(mode: str, environ: Mapping[str, str]) -> bool:
    """Whether to speak GitHub Actions: `--ci github`, or `auto` inside a GitHub job."""
    if mode == "github":
        return True
    if mode == "none":
        return False
    return environ.get("GITHUB_ACTIONS", "").lower() == "true"


# -- workflow commands ------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped as GitHub decodes them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (`title=...`): also `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def error_annotation(record: RunRecord, *, batch: bool) -> str:
    """`::error title=...::message` for a failed run (one line)."""
    what = f"{record.binary} input {record.name}" if batch else record.binary
    title = f"wasmcli: {what} failed ({record.failure_type})"
    message = record.failure_message or "failed"
    if record.stage:
        message += f"\nstage: {record.stage}"
    message += f"\ntrace: {record.trace_id or 'not stored'}"
    return f"::error title={escape_property(title)}::{escape_data(message)}"


def write_annotations(records: Sequence[RunRecord], stream: TextIO, *, batch: bool) -> int:
    """One error annotation per failed run on `stream`; how many were written."""
    count = 0
    for record in records:
        if not record.success:
            stream.write(error_annotation(record, batch=batch) + "\n")
            count += 1
    stream.flush()
    return count


# -- the job summary --------------------------------------------------------------------

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# What GitHub's Markdown reads in a table cell: emphasis, code, links, HTML, entities,
# the cell's end, math (`$`), mentions (`@`) and issue references (`#`).
_MARKDOWN_SPECIAL: Final = re.compile(r"([\\`*_~\[\]<>&|$@#])")


def markdown_cell(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """Plugin text as the content of one table cell, shown as it is: line breaks become
    spaces, control characters visible escapes, and every character Markdown would read
    is backslash-escaped (CommonMark allows it for any ASCII punctuation), so no `|` ends
    the cell and no `<`, `*`, `[` or `@` becomes markup."""
    flat = " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", flat)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def summary_markdown(records: Sequence[RunRecord], *, title: str, batch: bool) -> str:
    """The job-summary section for these runs: a heading with the counts, then a table."""
    failed = [r for r in records if not r.success]
    counts = f"{len(records):,} run{'s' if len(records) != 1 else ''}"
    counts += f": {len(records) - len(failed):,} passed, {len(failed):,} failed"
    icon = "✅" if not failed else "❌"
    lines = [f"### {icon} {markdown_cell(title)}", "", counts, ""]
    shown = list(records)
    if len(shown) > MAX_SUMMARY_ROWS:
        # The failures are what a reader came for: they go first, then successes.
        shown = (failed + [r for r in records if r.success])[:MAX_SUMMARY_ROWS]
    first = "input" if batch else "binary"
    lines.append(f"| {first} | outcome | return code | fuel | duration | trace id |")
    lines.append("|---|---|---|--:|--:|---|")
    for record in shown:
        lines.append("| " + " | ".join(_row(record, batch)) + " |")
    if len(shown) < len(records):
        hidden_failures = len(failed) - sum(1 for r in shown if not r.success)
        detail = f"{hidden_failures:,} of them failed" if hidden_failures else "all passed"
        lines += ["", f"{len(records) - len(shown):,} more runs not shown ({detail})."]
    return "\n".join(lines) + "\n\n"


def _row(record: RunRecord, batch: bool) -> list[str]:
    name = markdown_cell(record.name if batch else record.binary)
    if record.success:
        outcome = "✅ ok"
    else:
        detail = record.failure_message or record.failure_type or "failed"
        outcome = f"❌ {markdown_cell(detail)}"
    if record.return_code is None:
        code = MISSING
    else:
        code = f"{record.return_code} {record.return_code_name}"  # wasmcli's own names
    fuel = MISSING if record.fuel_consumed is None else f"{record.fuel_consumed:,}"
    trace = f"`{record.trace_id}`" if record.trace_id else MISSING
    return [name, outcome, code, fuel, _duration(record.duration_s), trace]


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def append_summary(path: Path, markdown: str) -> bool:
    """Append to the job summary file (GitHub collects it after the step); OSError on
    failure.

    GitHub drops a step's whole summary when it is larger than 1 MiB, so a section that
    would take the file past `SUMMARY_BUDGET_BYTES` is left out (a step that runs
    thousands of plugins one by one would otherwise lose every table), and one line
    says so, once. False when the section was left out."""
    with path.open("a+b") as summary:
        size = summary.seek(0, 2)
        data = markdown.encode("utf-8")
        if size + len(data) <= SUMMARY_BUDGET_BYTES:
            summary.write(data)
            return True
        summary.seek(max(0, size - len(SUMMARY_FULL)))
        if summary.read() != SUMMARY_FULL and size + len(SUMMARY_FULL) <= SUMMARY_LIMIT_BYTES:
            summary.seek(0, 2)
            summary.write(SUMMARY_FULL)
        return False
