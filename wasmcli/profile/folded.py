"""Brendan Gregg's folded stacks: one line per stack, `outer;inner;leaf weight`.

The weight is the stack's self fuel. flamegraph.pl, inferno and speedscope read it.
Frames cannot hold the format's separators: a `;` in a name becomes `:`, and line
breaks become spaces (the weight is what follows the last space, so spaces may stay).
"""

from __future__ import annotations

from collections.abc import Iterable

from wasmcli.profile.model import Profile


def frame_text(name: str) -> str:
    return name.replace(";", ":").replace("\r", " ").replace("\n", " ")


def folded_weights(profiles: Iterable[Profile]) -> dict[str, int]:
    """Each stack's line key and its fuel, summed over the profiles (stacks with no
    fuel of their own are left out, as the format has no use for them)."""
    weights: dict[str, int] = {}
    for profile in profiles:
        for stack in profile.stacks:
            if stack.self_fuel > 0:
                key = ";".join(frame_text(frame) for frame in stack.frames)
                weights[key] = weights.get(key, 0) + stack.self_fuel
    return weights


def folded_text(profiles: Iterable[Profile]) -> str:
    """The folded lines, sorted (so that equal profiles give equal text)."""
    weights = folded_weights(profiles)
    return "".join(f"{key} {weights[key]}\n" for key in sorted(weights))
