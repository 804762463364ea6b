"""Summaries of measured samples: medians and percentiles, never means alone."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks.

    The same definition as numpy's default, so figures compare with other tools.
    Raises ``ValueError`` on an empty sample.
    """
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """``count``, ``min``, ``median``, ``p90``, ``p99``, ``max`` and ``mean``, each times ``scale``.

    An empty sample gives ``{"count": 0}``: a figure that was not measured stays absent.
    """
    if not values:
        return {"count": 0}
    figures = {
        "min": min(values),
        "median": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }
    return {"count": len(values), **{name: round(value * scale, 3) for name, value in figures.items()}}
