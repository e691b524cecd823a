"""Where a retrained router operates: its threshold, chosen for the held-out traffic.

This is the seam for a candidate router's operating-point tuner: anything with
`tune(candidate_scores, pairs, running) -> OperatingPoint` plugs in. The default keeps the running
policy's cost: the candidate's threshold sends the same share of the held-out prompts to the large
tier as the running policy does (picked from scores alone, no labels), and the cascade threshold is
left as it is, so the gate compares quality at equal large-tier spend. (The cascade threshold is
refitted separately, by `cascade_refit` with `tier-router tune`'s search.)
"""

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from serve_app.evaluation.calibrate import quantile_threshold


@dataclass(frozen=True)
class HeldOutPairs:
    """Judged quality of both answers on the held-out prompts: the labels a tuner may use
    (the share-matched default does not)."""

    small: np.ndarray
    large: np.ndarray


@dataclass(frozen=True)
class RunningPoint:
    """The running policy on the held-out prompts: the share it sends to large."""

    large_share: float

    @classmethod
    def of(cls, scores: np.ndarray, threshold: float) -> "RunningPoint":
        scores = np.asarray(scores, dtype=float)
        return cls(float(np.mean(scores > threshold)) if len(scores) else 0.0)


@dataclass(frozen=True)
class OperatingPoint:
    router_threshold: float
    note: str = ""


class OperatingPointTuner(Protocol):
    name: str

    def tune(self, scores: np.ndarray, pairs: HeldOutPairs, running: RunningPoint) -> OperatingPoint: ...


class ShareMatchedTuner:
    """The candidate's threshold at the running policy's large-tier share; cascade unchanged."""

    name = "share-matched"

    def tune(self, scores: np.ndarray, pairs: HeldOutPairs, running: RunningPoint) -> OperatingPoint:
        share = running.large_share
        return OperatingPoint(
            quantile_threshold(scores, share), note=f"threshold sends {share:.1%} to large, as the running policy does"
        )
