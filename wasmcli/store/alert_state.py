"""Which firing episode of each alert rule has been announced, in the home's database.

Two channels remember separately: `announced` (the `alert:` line a run prints) and
`checked` (what `alerts check` reports as new, and runs `--exec` for). An episode is
named by the moment it started firing; a later episode starts later, so "not announced
yet" is "announced before this episode started, or never".

Every update happens in a write transaction that first reads the row: two processes
that see the same new episode serialise on SQLite's write lock, and only the first one
marks (and announces) it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from wasmcli.store.db import Transaction, is_read_only
from wasmcli.tracing.events import format_utc

CHANNELS = ("announced", "checked")


@dataclass(frozen=True)
class Episode:
    """A rule that is firing: its name, its definition's hash, when the episode began."""

    name: str
    rule_hash: str
    since: datetime


@dataclass(frozen=True)
class RuleState:
    rule_hash: str
    announced_since: str | None
    checked_since: str | None


class AlertStateStore:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def states(self) -> dict[str, RuleState]:
        rows = self.conn.execute(
            "SELECT name, rule_hash, announced_since, checked_since FROM alert_state"
        ).fetchall()
        return {row[0]: RuleState(row[1], row[2], row[3]) for row in rows}

    def is_new(self, episode: Episode, channel: str, states: dict[str, RuleState]) -> bool:
        """Whether `channel` has not yet seen `episode` (read from `states`)."""
        state = states.get(episode.name)
        if state is None or state.rule_hash != episode.rule_hash:
            return True
        seen = state.announced_since if channel == "announced" else state.checked_since
        return seen is None or seen < format_utc(episode.since)

    def claim(self, episodes: Iterable[Episode], channel: str) -> list[Episode]:
        """Mark these episodes as seen on `channel`; the ones no other process had marked
        (those the caller now announces). A read-only home remembers nothing: every
        episode it was not told about before is new."""
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        episodes = list(episodes)
        if not episodes:
            return []
        if is_read_only(self.conn):
            states = self.states()
            return [e for e in episodes if self.is_new(e, channel, states)]
        now = format_utc(datetime.now(timezone.utc))
        claimed = []
        with Transaction(self.conn) as conn:
            states = self.states()  # inside the write lock: what others marked is here
            for episode in episodes:
                if not self.is_new(episode, channel, states):
                    continue
                claimed.append(episode)
                state = states.get(episode.name)
                kept = state if state is not None and state.rule_hash == episode.rule_hash else None
                announced = kept.announced_since if kept else None
                checked = kept.checked_since if kept else None
                since = format_utc(episode.since)
                if channel == "announced":
                    announced = since
                else:
                    checked = since
                conn.execute(
                    "INSERT OR REPLACE INTO alert_state (name, rule_hash, announced_since,"
                    " checked_since, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (episode.name, episode.rule_hash, announced, checked, now),
                )
        return claimed
