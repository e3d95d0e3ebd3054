"""speedscope's file format (https://www.speedscope.app/file-format-schema.json).

One "sampled" profile per trace: each stack with fuel of its own is a sample, weighted by
that fuel (unit "none": fuel is not a unit speedscope knows). Frames are shared by all
the profiles of the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wasmcli.profile.model import Profile

SCHEMA = "https://www.speedscope.app/file-format-schema.json"


def speedscope_document(profiles: Iterable[Profile], exporter: str) -> dict[str, Any]:
    frames: list[dict[str, str]] = []
    frame_index: dict[str, int] = {}
    documents: list[dict[str, Any]] = []
    for profile in profiles:
        samples: list[list[int]] = []
        weights: list[int] = []
        for stack in profile.stacks:
            if stack.self_fuel <= 0:
                continue
            sample = []
            for name in stack.frames:
                index = frame_index.get(name)
                if index is None:
                    index = frame_index[name] = len(frames)
                    frames.append({"name": name})
                sample.append(index)
            samples.append(sample)
            weights.append(stack.self_fuel)
        documents.append(
            {
                "type": "sampled",
                "name": f"{profile.label}: fuel",
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        )
    return {
        "$schema": SCHEMA,
        "shared": {"frames": frames},
        "profiles": documents,
        "name": "wasmcli fuel profiles",
        "activeProfileIndex": 0,
        "exporter": exporter,
    }
