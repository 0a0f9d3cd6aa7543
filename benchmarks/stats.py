"""Summaries of repeated measurements: median, spread, paired ratios, scaling exponents."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min, max and the spread (max - min) as a share of the median."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return {"median": None, "min": None, "max": None, "spread": None, "samples": []}
    median = statistics.median(values)
    spread = (max(values) - min(values)) / median if median else 0.0
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread": spread,
        "samples": list(values),
    }


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> dict[str, Any]:
    """Summary of per-repetition ratios ``value / baseline``.

    Repetitions are interleaved, so repetition *i* of each client ran under the same machine
    load; dividing pairwise cancels most of the drift that a ratio of medians would keep.
    """
    ratios = [v / b for v, b in zip(values, baseline, strict=False) if v is not None and b]
    return summary(ratios)


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Least-squares exponent k of ``y ~ x**k``: 1 is linear, 0 is flat."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(points) < 2:
        return None
    mx = statistics.fmean(p[0] for p in points)
    my = statistics.fmean(p[1] for p in points)
    var = sum((p[0] - mx) ** 2 for p in points)
    if not var:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in points) / var
