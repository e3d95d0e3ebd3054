"""Exact percentiles by the nearest-rank method.

The p-th percentile of n values (0 < p <= 100) is the value at rank ceil(p / 100 * n) of
the values sorted ascending (ranks from 1). It is always one of the values (no
interpolation), so a p99 duration is a run that happened; p100 is the maximum.
"""

from __future__ import annotations

from collections.abc import Sequence

PERCENTILE_METHOD = "nearest-rank"


def nearest_rank(percent: int, count: int) -> int:
    """The 1-based rank of the `percent`-th percentile among `count` values (count >= 1)."""
    if not 0 < percent <= 100:
        raise ValueError(f"percentile {percent} is not in (0, 100]")
    if count < 1:
        raise ValueError("no values")
    # ceil(percent * count / 100) in integers: no float rounding at any count.
    return max(1, -(-percent * count // 100))


def percentile(sorted_values: Sequence[int], percent: int) -> int | None:
    """The nearest-rank percentile of values already sorted ascending; None when empty."""
    if not sorted_values:
        return None
    return sorted_values[nearest_rank(percent, len(sorted_values)) - 1]
