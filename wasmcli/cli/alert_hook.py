"""After `wasmcli run` stores its trace (or `run --batch` its traces): one `alert:` line
on stderr for each alert that starts firing with those runs (docs/design.md, alerts). The
run's exit code never changes.

When the home has no rules file this costs one stat() and imports nothing of
wasmcli.insight: `run` stays as fast as without alerts.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from wasmcli.config import ALERT_RULES_FILENAME
from wasmcli.errors import WasmcliError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wasmcli.store.registry import Registry
    from wasmcli.tracing.events import ExecutionTrace


def announce_alerts(registry: Registry, traces: Sequence[ExecutionTrace]) -> None:
    """One `alert:` line per alert that starts firing with these stored traces."""
    path = registry.home / ALERT_RULES_FILENAME
    if not path.is_file():
        return
    from wasmcli.cli.errors import print_warning
    from wasmcli.insight.alerts.check import alerts_after_run
    from wasmcli.insight.alerts.rules import load_rules
    from wasmcli.render.alerts import alert_line

    try:
        started = alerts_after_run(registry, load_rules(path), traces)
    except WasmcliError as exc:
        # A broken rules file must not change a run's outcome: say so and go on.
        print_warning(f"alerts not evaluated: {exc.message}")
        return
    except Exception as exc:  # noqa: BLE001 - nor may a bug in the alerts
        print_warning(f"alerts not evaluated: {type(exc).__name__}: {exc} (a bug in wasmcli)")
        return
    for status in started:
        sys.stderr.write(alert_line(status) + "\n")
    sys.stderr.flush()


def announce_batch_alerts(registry: Registry, batch_id: str) -> None:
    """After a batch: the rules are evaluated once for all of its stored runs (their
    summaries: no event is read)."""
    if not (registry.home / ALERT_RULES_FILENAME).is_file():
        return
    from wasmcli.store.traces import TraceFilter, TraceStore

    traces = list(TraceStore(registry.conn).iter(TraceFilter(batch_id=batch_id), with_events=False))
    if traces:
        announce_alerts(registry, traces)
