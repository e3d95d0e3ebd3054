"""`traces export --format folded|speedscope`: the profiled traces among those selected."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from wasmcli.profile.folded import folded_text
from wasmcli.profile.model import Profile, profile_of
from wasmcli.profile.speedscope import speedscope_document
from wasmcli.tracing.events import ExecutionTrace

PROFILE_FORMATS = ("folded", "speedscope")


def profiles_in(traces: Iterable[ExecutionTrace]) -> list[Profile]:
    """The profiles of the traces that have one (runs without --profile are skipped)."""
    return [profile_of(trace) for trace in traces if trace.profile is not None]


def write_profile_export(traces: Iterable[ExecutionTrace], fmt: str, stream: TextIO) -> int:
    """Write the profiles in `fmt`; how many traces had one."""
    profiles = profiles_in(traces)
    if fmt == "folded":
        stream.write(folded_text(profiles))
    else:
        from wasmcli import __version__

        document = speedscope_document(profiles, f"wasmcli {__version__}")
        stream.write(json.dumps(document, ensure_ascii=False) + "\n")
    return len(profiles)
