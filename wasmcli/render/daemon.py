"""`wasmcli daemon status` as lines of text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from wasmcli.humanize import format_duration, plural

if TYPE_CHECKING:
    from wasmcli.daemon.control import DaemonStatus


def status_lines(home: Path, status: DaemonStatus | None) -> list[str]:
    if status is None:
        return [f"daemon   not running for {home}"]
    lines = [
        f"daemon   running, pid {status.pid}",
        f"home     {status.home}",
        f"version  wasmcli {status.version}",
        f"uptime   {_seconds(status.uptime_s)}",
        f"served   {plural(status.served, 'command')}"
        + (f" ({status.busy} running now)" if status.busy else ""),
        f"idle     exits after {idle_span(status.idle_s)} without a command"
        + (f" (idle for {_seconds(status.idle_for_s)})" if not status.busy else ""),
    ]
    if status.max_commands > 0:  # a daemon of an earlier wasmcli does not say
        full = status.busy >= status.max_commands
        lines.append(
            f"limit    {plural(status.max_commands, 'command')} at once"
            + (": all busy, more run in-process" if full else "")
        )
    if not status.usable:
        lines.append(
            f"note     not used by this wasmcli ({status.difference}): "
            "`wasmcli daemon restart` replaces it"
        )
    return lines


def idle_span(seconds: float) -> str:
    """An idle time as it was typed: '10m', '2h', '45s' (else as a duration)."""
    whole = round(seconds)
    if whole == seconds and whole > 0:
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if whole % size == 0:
                return f"{whole // size}{unit}"
    return _seconds(seconds)


def _seconds(value: float) -> str:
    return format_duration(round(value * 1_000_000))
