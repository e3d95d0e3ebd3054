"""The three ways alerts are evaluated: `alerts check`, `alerts list`, and after a run.

- `check_alerts` evaluates every rule and reports each firing one, with `new` set on
  the episodes `alerts check --exec` has not notified yet; with `notify=True` (--exec)
  it remembers them as notified, so each episode is notified once.
- `list_alerts` evaluates every rule and changes nothing.
- `alerts_after_run` evaluates the rules the runs' traces concern (one run, or a batch)
  and returns those whose episode no run announced yet: the caller prints one `alert:`
  line for each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from wasmcli.insight.alerts.evaluate import AlertEvaluator, AlertStatus
from wasmcli.insight.alerts.rules import RuleSet
from wasmcli.store.alert_state import AlertStateStore, Episode
from wasmcli.store.registry import Registry
from wasmcli.tracing.events import ExecutionTrace


def list_alerts(registry: Registry, rules: RuleSet) -> list[AlertStatus]:
    evaluator = AlertEvaluator(registry)
    return [evaluator.evaluate(rule) for rule in rules.rules]


def check_alerts(registry: Registry, rules: RuleSet, notify: bool = False) -> list[AlertStatus]:
    statuses = list_alerts(registry, rules)
    if notify:
        return _claim(registry, statuses, "checked")
    store = AlertStateStore(registry.conn)
    states = store.states()
    return [
        replace(s, new=True)
        if (episode := s.episode()) is not None and store.is_new(episode, "checked", states)
        else s
        for s in statuses
    ]


def alerts_after_run(
    registry: Registry, rules: RuleSet, traces: Sequence[ExecutionTrace]
) -> list[AlertStatus]:
    """After runs stored their traces (one run, or a batch): the alerts that start firing
    with them, each claimed so that no other run announces it again."""
    evaluator = AlertEvaluator(registry)
    statuses = [
        evaluator.evaluate(rule)
        for rule in rules.rules
        if any(evaluator.concerns(rule, trace) for trace in traces)
    ]
    return [status for status in _claim(registry, statuses, "announced") if status.new]


def _claim(registry: Registry, statuses: list[AlertStatus], channel: str) -> list[AlertStatus]:
    episodes: dict[str, Episode] = {}
    for status in statuses:
        episode = status.episode()
        if episode is not None:
            episodes[status.rule.name] = episode
    claimed = {e.name for e in AlertStateStore(registry.conn).claim(episodes.values(), channel)}
    return [replace(s, new=True) if s.rule.name in claimed else s for s in statuses]
