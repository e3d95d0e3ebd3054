"""Options every command shares (set by the app callback) and helpers to open the home."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wasmcli.store.registry import Registry


@dataclass
class GlobalOptions:
    home: Path | None = None


options = GlobalOptions()


def open_registry() -> Registry:
    return Registry(options.home)
