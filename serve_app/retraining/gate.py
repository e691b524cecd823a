"""The promotion gate: a candidate replaces the running policy only when it wins on held-out
traffic by a set margin AND a paired bootstrap confidence interval of the difference excludes 0."""

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from serve_app.evaluation.joint import reaches_large
from serve_app.evaluation.metrics import interval


def routed_quality(
    scores: np.ndarray,
    threshold: float,
    small: np.ndarray,
    large: np.ndarray,
    confidence: Optional[np.ndarray] = None,
    cascade_threshold: Optional[float] = None,
) -> np.ndarray:
    """Per-prompt quality of a policy: the large answer's where it reaches large (routed there,
    or, with a cascade, escalated: `joint.reaches_large`), else the small's."""
    routed, escalated = reaches_large(scores, confidence, threshold, cascade_threshold)
    return np.where(routed | escalated, large, small).astype(float)


def bootstrap_ci(
    diff: np.ndarray, resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(diff), resampling prompts (paired: one index draws
    both policies' quality on the same prompt)."""
    diff = np.asarray(diff, dtype=float)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, 500):  # chunks keep memory small on big test slices
        n = min(500, resamples - start)
        means[start : start + n] = diff[rng.integers(0, len(diff), size=(n, len(diff)))].mean(axis=1)
    return interval(means, confidence)


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reason: str
    rows: int
    candidate_quality: float
    running_quality: float
    difference: float
    ci_low: float
    ci_high: float
    margin: float
    confidence: float

    def to_dict(self) -> dict:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def decide(
    candidate: np.ndarray,
    running: np.ndarray,
    margin: float,
    min_rows: int = 30,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    extra_large_share: float = 0.0,
    share_tolerance: float = 0.05,
) -> GateDecision:
    """Gate on per-prompt qualities of the candidate and the running policy on the same prompts.
    `extra_large_share` is how much more traffic the candidate sends to the large tier (tied
    scores can keep it from matching the running share): beyond `share_tolerance` it is refused,
    since its quality would be bought with cost."""
    candidate, running = np.asarray(candidate, dtype=float), np.asarray(running, dtype=float)
    if candidate.shape != running.shape:
        raise ValueError("candidate and running policy must be scored on the same prompts")
    n = len(candidate)
    if n == 0:
        return GateDecision(False, "no held-out pairs", 0, *([float("nan")] * 5), margin, confidence)
    diff = candidate - running
    low, high = bootstrap_ci(diff, resamples, confidence, seed)
    mean = float(diff.mean())
    args = (n, float(candidate.mean()), float(running.mean()), mean, low, high, margin, confidence)
    if extra_large_share > share_tolerance:
        return GateDecision(
            False, f"sends {extra_large_share:.1%} more traffic to the large tier than the running policy", *args
        )
    if n < min_rows:
        return GateDecision(False, f"only {n} held-out pairs (need {min_rows})", *args)
    if mean < margin:
        return GateDecision(False, f"gain {mean:+.4f} is below the margin {margin:g}", *args)
    if low <= 0.0:
        return GateDecision(False, f"{confidence:.0%} CI of the gain [{low:+.4f}, {high:+.4f}] includes 0", *args)
    return GateDecision(
        True, f"gain {mean:+.4f} >= margin {margin:g}, {confidence:.0%} CI [{low:+.4f}, {high:+.4f}] excludes 0", *args
    )
