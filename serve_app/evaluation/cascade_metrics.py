"""Cascade quality metrics: escalate the least confident small answers to the large model.

For a confidence signal c (higher = keep the small answer), escalating the share x of answers
with the lowest confidence gives a curve of mean quality against x (the share of traffic that
reaches the large model), exactly like a router's curve with score = -c; so PGR, APGR and CPT are
those of `metrics`. A missing confidence (None) always escalates first. AUROC measures how well
c separates right small answers from wrong ones (0.5 = no better than chance).
"""

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from serve_app.evaluation.metrics import Curve, apgr, cpt, quality_curve

MISSING = -1e9  # confidence given to a missing value: below every real one


def confidence_array(values: Sequence[Optional[float]]) -> np.ndarray:
    """Confidences as floats, None (cannot be computed) as the lowest value."""
    return np.array([MISSING if v is None else float(v) for v in values], dtype=float)


def auroc(confidence: Sequence[Optional[float]], correct: Sequence[float]) -> float:
    """P(confidence of a right answer > that of a wrong one), ties counted half (Mann-Whitney).
    NaN when all answers are right or all wrong."""
    c = confidence_array(confidence)
    y = np.asarray(correct, dtype=float) > 0.5
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    order = np.argsort(c, kind="stable")
    ranks = np.empty(len(c))
    sorted_c = c[order]
    starts = np.flatnonzero(np.r_[True, sorted_c[1:] != sorted_c[:-1]])
    ends = np.r_[starts[1:], len(c)]
    for s, e in zip(starts, ends, strict=True):  # average rank (1-based) of each run of ties
        ranks[order[s:e]] = (s + e + 1) / 2.0
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def cascade_curve(confidence: Sequence[Optional[float]], small: np.ndarray, large: np.ndarray) -> Curve:
    """Quality when the share x of least confident small answers is replaced by the large
    model's, for x = k/n, k = 0..n (ties escalated in random order, in expectation)."""
    return quality_curve(-confidence_array(confidence), small, large)


@dataclass(frozen=True)
class SignalResult:
    """How one confidence signal does as a cascade against one large model."""

    signal: str
    auroc: float
    apgr: float
    cpt50: float
    cpt80: float
    missing: int  # answers with no value (always escalated)
    quality_at: dict[float, float]  # quality at a few escalation shares
    auroc_ci: tuple[float, float] = (float("nan"), float("nan"))  # bootstrap 95% intervals
    apgr_ci: tuple[float, float] = (float("nan"), float("nan"))
    small_quality: float = float("nan")  # accuracy of the small answers this signal judges


def evaluate_signal(
    name: str,
    confidence: Sequence[Optional[float]],
    small: np.ndarray,
    large: np.ndarray,
    shares: Sequence[float] = (0.1, 0.3, 0.5),
    boots: int = 200,
    seed: int = 0,
) -> SignalResult:
    """AUROC, APGR, CPT and quality at `shares`, with bootstrap 95% intervals (items resampled)."""
    curve = cascade_curve(confidence, small, large)
    n = len(small)
    at = {s: float(curve.quality[int(round(s * n))]) for s in shares}
    c = confidence_array(confidence)
    small, large = np.asarray(small, dtype=float), np.asarray(large, dtype=float)
    rng = np.random.default_rng(seed)
    aurocs, apgrs = [], []
    for _ in range(boots):
        pick = rng.integers(0, n, n)
        aurocs.append(auroc(c[pick], small[pick]))
        if np.sum(large[pick] - small[pick]) > 0:
            apgrs.append(apgr(cascade_curve(c[pick], small[pick], large[pick])))
    return SignalResult(
        name,
        auroc(confidence, small),
        apgr(curve),
        cpt(curve, 0.5),
        cpt(curve, 0.8),
        sum(v is None for v in confidence),
        at,
        _interval(aurocs),
        _interval(apgrs),
        float(np.mean(small)),
    )


def _interval(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return (float("nan"), float("nan"))
    low, high = np.percentile(values, [2.5, 97.5])
    return (float(low), float(high))


def threshold_for_share(confidence: Sequence[Optional[float]], share: float) -> float:
    """The largest sample threshold t with at most `share` of answers below it (escalate when
    c < t): the k-th smallest confidence, k = floor(share * n)."""
    c = np.sort(confidence_array(confidence))
    if not len(c):
        raise ValueError("no confidences")
    k = int(np.floor(share * len(c) + 1e-9))
    return float(c[k]) if k < len(c) else float(c[-1]) + 1e-9
