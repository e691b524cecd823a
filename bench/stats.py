"""Latency statistics for the serving benchmarks (pure, no Ray)."""

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no samples."""
    if len(samples) == 0:
        return float("nan")
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


@dataclass(frozen=True)
class LatencySummary:
    """Count, p50, p99 and mean of latency samples, in the unit they were given in."""

    count: int
    p50: float
    p99: float
    mean: float

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples: Sequence[float]) -> LatencySummary:
    values = list(samples)
    mean = float(np.mean(values)) if values else float("nan")
    return LatencySummary(len(values), percentile(values, 50), percentile(values, 99), mean)


def ratio(value: float, base: float) -> float:
    """value / base, NaN when the base is zero or missing."""
    return value / base if base and base == base else float("nan")
