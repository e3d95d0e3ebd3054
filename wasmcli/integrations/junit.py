"""JUnit XML test reports, as GitLab, Jenkins and GitHub's test reporters read them.

The schema is the one those tools share (Jenkins' JUnit schema, which GitLab follows):

    <testsuites name tests failures errors skipped time>
      <testsuite name tests failures errors skipped time timestamp hostname>
        <testcase name classname time>
          <failure message type>details</failure>   (or <error .../>)
          <system-out>the output</system-out>

One test case per run: `name` is the input's id or index (a batch), or the trace id;
`classname` the binary's name; `time` the run's duration in seconds. Runs are grouped
into one test suite per binary. A failed run carries `<failure>` whose `type` is the
plugin's return-code name (a plugin that returned an error code) or the error kind, and
whose message says what happened; runs that could not be judged at all (a usage error,
an internal error, an interrupted or terminated run) carry `<error>` instead.

Built with ElementTree, imported when a report is written. Text a plugin controls is
made valid XML 1.0: characters XML cannot hold are written as visible escapes (`\\x07`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Final

from wasmcli.integrations.records import RunRecord

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

# Kinds that say the run could not be judged, not that the plugin misbehaved.
ERROR_KINDS: Final = frozenset({"usage", "internal", "interrupted", "terminated"})

# Characters XML 1.0 cannot hold (not even as references): most C0 controls, surrogates,
# U+FFFE and U+FFFF.
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` with every character XML 1.0 cannot hold written as a visible escape."""
    return _NOT_XML.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_error(record: RunRecord) -> bool:
    return not record.success and record.error_kind in ERROR_KINDS


def junit_xml(
    records: Sequence[RunRecord],
    *,
    name: str = "wasmcli",
    timestamp: datetime | None = None,
) -> bytes:
    """The JUnit XML document for the runs (UTF-8, with an XML declaration)."""
    import socket
    from xml.etree.ElementTree import Element, SubElement, indent, tostring

    suites_by_binary: dict[str, list[RunRecord]] = {}
    for record in records:
        suites_by_binary.setdefault(record.binary, []).append(record)
    root = Element("testsuites", name=xml_text(name))
    _set_counts(root, records)
    hostname = socket.gethostname()
    for binary, runs in suites_by_binary.items():
        started = [r.started_at for r in runs if r.started_at is not None]
        moment = min(started) if started else (timestamp or datetime.now(timezone.utc))
        suite = SubElement(root, "testsuite", name=xml_text(binary))
        _set_counts(suite, runs)
        # Jenkins' schema: a local date and time without a zone; wasmcli writes UTC.
        suite.set("timestamp", moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
        suite.set("hostname", xml_text(hostname))
        for record in runs:
            _testcase(suite, record)
    indent(root)
    document = '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode")
    return document.encode("utf-8") + b"\n"


def write_junit(path: Path, records: Sequence[RunRecord], *, name: str = "wasmcli") -> None:
    """Write the report atomically (a reader never sees half a file); OSError on failure."""
    from wasmcli.integrations.report_file import write_report

    write_report(path, junit_xml(records, name=name))


def _set_counts(element: Element, records: Sequence[RunRecord]) -> None:
    errors = sum(1 for r in records if is_error(r))
    failures = sum(1 for r in records if not r.success) - errors
    element.set("tests", str(len(records)))
    element.set("failures", str(failures))
    element.set("errors", str(errors))
    element.set("skipped", "0")
    element.set("time", _seconds(sum(r.duration_s for r in records)))


def _seconds(value: float) -> str:
    return f"{value:.6f}"


def _testcase(suite: Element, record: RunRecord) -> None:
    from xml.etree.ElementTree import SubElement

    case = SubElement(
        suite,
        "testcase",
        name=xml_text(record.name),
        classname=xml_text(record.binary),
        time=_seconds(record.duration_s),
    )
    if not record.success:
        outcome = SubElement(
            case,
            "error" if is_error(record) else "failure",
            message=xml_text(record.failure_message or ""),
            type=xml_text(record.failure_type or ""),
        )
        outcome.text = xml_text(_details(record))
    text = record.output.text
    if record.output.note:
        text += ("\n" if text else "") + f"[wasmcli: {record.output.note}]"
    if text:
        SubElement(case, "system-out").text = xml_text(text)


def _details(record: RunRecord) -> str:
    lines = [record.failure_message or ""]
    if record.error_kind == "plugin_error":
        lines.append(f"error kind: {record.error_kind}")
    if record.stage:
        lines.append(f"stage: {record.stage}")
    lines.append(f"engine: {record.engine or 'none'}")
    if record.fuel_consumed is not None:
        lines.append(f"fuel: {record.fuel_consumed:,} of {record.fuel_limit or 0:,}")
    lines.append(f"trace: {record.trace_id or 'not stored'}")
    if record.backtrace:
        lines.append("wasm backtrace:")
        lines.extend(f"  {frame}" for frame in record.backtrace)
    return "\n".join(lines)
