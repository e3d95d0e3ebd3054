"""Rendering `wasmcli doctor`'s report: what was checked, each problem, what was done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

if TYPE_CHECKING:
    from wasmcli.store.doctor import DoctorReport

_CHECKED = (
    ("database", "database", "databases"),
    ("binaries", "registered binary", "registered binaries"),
    ("traces", "trace", "traces"),
    ("artifacts", "compiled artifact", "compiled artifacts"),
)


def doctor_view(report: DoctorReport) -> RenderableType:
    lines = [Text(f"home     {report.home}")]
    checked = [
        f"{report.checked[key]:,} {one if report.checked[key] == 1 else many}"
        for key, one, many in _CHECKED
        if key in report.checked
    ]
    lines.append(Text(f"checked  {', '.join(checked) or 'nothing: no home yet'}"))
    for finding in report.findings:
        line = Text()
        if finding.fixed:
            line.append("fixed    ", style="green")
        else:
            line.append("problem  ", style="red")
        line.append(f"{finding.check}: {finding.problem}")
        if finding.fixed:
            line.append(f" · done: {finding.fix}", style="dim")
        elif finding.fix:
            line.append(f" · --fix: {finding.fix}", style="dim")
        else:
            line.append(" · wasmcli cannot repair this", style="dim")
        lines.append(line)
    if report.healthy:
        verdict = "healthy" if not report.findings else "healthy now: every problem was fixed"
        lines.append(Text(f"verdict  {verdict}", style="green"))
    return Group(*lines)


def doctor_verdict(report: DoctorReport) -> str | None:
    """The one-line error for an unhealthy home, or None when it is healthy."""
    if report.healthy:
        return None
    left = [finding for finding in report.findings if not finding.fixed]
    fixable = sum(1 for finding in left if finding.fix is not None)
    count = f"{len(left)} problem{'s' if len(left) != 1 else ''}"
    if fixable == len(left):
        return f"the wasmcli home {report.home} has {count}: `wasmcli doctor --fix` repairs them"
    if fixable:
        return (
            f"the wasmcli home {report.home} has {count}: `wasmcli doctor --fix` repairs "
            f"{fixable} of them"
        )
    return f"the wasmcli home {report.home} has {count} that wasmcli cannot repair"
