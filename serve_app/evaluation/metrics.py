"""Router quality metrics: quality against strong-call share, PGR, APGR, CPT, and one threshold.

A router is judged by sorting prompts by its score and sending the top share x to the strong
model. Tied scores are broken at random *in expectation*: inside a run of equal scores the curve
is linear, so a router that gives every prompt the same score is exactly the random router
(APGR 0.5, CPT(p) = p).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class Curve:
    """Quality at every strong-call share k/n, k = 0..n."""

    share: np.ndarray  # x = k / n
    quality: np.ndarray  # mean quality when the top k prompts go to the strong model
    pgr: np.ndarray  # share of the weak -> strong quality gap recovered


def cumulative_gain(scores: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Expected total gain of the top k prompts by score (k = 0..n), ties in random order."""
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_gain = scores[order], np.asarray(gain, dtype=float)[order]
    n = len(scores)
    # boundaries of runs of equal scores in sorted order
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], n]
    run_gain = np.add.reduceat(sorted_gain, starts) if n else np.zeros(0)
    knots_k = np.r_[0, ends]
    knots_gain = np.r_[0.0, np.cumsum(run_gain)]
    return np.interp(np.arange(n + 1), knots_k, knots_gain)


def quality_curve(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> Curve:
    weak, strong = np.asarray(weak, dtype=float), np.asarray(strong, dtype=float)
    n = len(weak)
    if n == 0:
        raise ValueError("no prompts to evaluate")
    total_gap = float(np.sum(strong - weak))
    if total_gap <= 0:
        raise ValueError("the strong model is not better than the weak one on this data: PGR is undefined")
    gain = cumulative_gain(scores, strong - weak)
    return Curve(share=np.arange(n + 1) / n, quality=(weak.sum() + gain) / n, pgr=gain / total_gap)


def apgr(curve: Curve) -> float:
    """Area under PGR(x) over x in [0, 1], trapezoid rule."""
    y, x = curve.pgr, curve.share
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def cpt(curve: Curve, target: float) -> float:
    """Smallest strong-call share x with PGR(x) >= target (linear between grid points); 1.0 if never."""
    hits = np.flatnonzero(curve.pgr >= target - 1e-12)
    if not len(hits):
        return 1.0
    k = int(hits[0])
    if k == 0:
        return 0.0
    y0, y1 = curve.pgr[k - 1], curve.pgr[k]
    x0, x1 = curve.share[k - 1], curve.share[k]
    return float(x0 + (target - y0) / (y1 - y0) * (x1 - x0)) if y1 > y0 else float(x1)


@dataclass(frozen=True)
class ThresholdPoint:
    """What one threshold does: traffic split, quality, and cost against all-large."""

    threshold: float
    strong_share: float
    quality: float
    quality_vs_strong: float  # quality / strong model's mean quality
    pgr: float
    cost_vs_all_large: Optional[float]  # None without tier costs


def at_threshold(
    scores: np.ndarray, weak: np.ndarray, strong: np.ndarray, threshold: float, cost_ratio: Optional[float] = None
) -> ThresholdPoint:
    """Large tier when score > threshold (as the router decides). `cost_ratio` is the small
    tier's cost per request over the large tier's."""
    to_strong = np.asarray(scores, dtype=float) > threshold
    weak, strong = np.asarray(weak, dtype=float), np.asarray(strong, dtype=float)
    quality = float(np.mean(np.where(to_strong, strong, weak)))
    share = float(np.mean(to_strong))
    gap = float(strong.mean() - weak.mean())
    cost = None if cost_ratio is None else share + (1.0 - share) * cost_ratio
    return ThresholdPoint(
        threshold=threshold,
        strong_share=share,
        quality=quality,
        quality_vs_strong=quality / float(strong.mean()) if strong.mean() else float("nan"),
        pgr=(quality - float(weak.mean())) / gap if gap > 0 else float("nan"),
        cost_vs_all_large=cost,
    )


def summarise(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray) -> dict[str, float]:
    """APGR, CPT(50%), CPT(80%) of one router."""
    curve = quality_curve(scores, weak, strong)
    return {"apgr": apgr(curve), "cpt50": cpt(curve, 0.5), "cpt80": cpt(curve, 0.8)}


BOOTSTRAP_RESAMPLES = 400


def bootstrap_apgr(
    scores: np.ndarray, weak: np.ndarray, strong: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """APGR on bootstrap resamples of the prompts (router scores held fixed: no training variance).
    The resamples depend only on the number of rows and the seed, so routers measured on the same
    rows pair up (differences of two routers' samples bootstrap the difference). A resample whose
    strong model is not better than the weak one gives NaN."""
    scores, weak, strong = (np.asarray(a, dtype=float) for a in (scores, weak, strong))
    rng = np.random.default_rng(seed)
    n, out = len(weak), np.full(resamples, np.nan)
    for b in range(resamples):
        pick = rng.integers(0, n, n)
        if np.sum(strong[pick] - weak[pick]) > 0:
            out[b] = apgr(quality_curve(scores[pick], weak[pick], strong[pick]))
    return out


def interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap samples (NaN samples ignored; (nan, nan) if none is left)."""
    kept = np.asarray(samples, dtype=float)
    kept = kept[~np.isnan(kept)]
    if not len(kept):
        return float("nan"), float("nan")
    lo, hi = np.quantile(kept, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
