"""Routing and cascade together: one operating point (route threshold, cascade threshold).

A prompt reaches the large model when the router sends it there (route score > route threshold)
or when it was routed small and the small answer's confidence is below the cascade threshold.
Its quality is the large model's score when it reaches large, else the small answer's grade.
`router alone` never escalates; `cascade alone` routes nothing to large.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from serve_app.evaluation.cascade_metrics import confidence_array

NEVER = float("inf")  # a route threshold no score exceeds (nothing routed large)


@dataclass(frozen=True)
class OperatingPoint:
    route_threshold: float
    cascade_threshold: float
    share: float  # traffic reaching large (routed + escalated)
    routed: float  # of which routed straight to large
    escalated: float  # of which escalated by the cascade
    quality: Optional[float]  # mean quality (None without labels)
    worst_share: Optional[float] = None  # on a mix of sets: the largest share of any one set


def reaches_large(route, confidence: Optional[np.ndarray], t_route: float, t_conf: Optional[float]):
    """(routed to large, escalated) masks: routed when the route score is above `t_route`;
    escalated when routed small with a confidence below `t_conf` (missing confidences are
    MISSING, below every real one). Without a confidence or `t_conf`, nothing escalates."""
    routed = np.asarray(route, dtype=float) > t_route
    if confidence is None or t_conf is None:
        return routed, np.zeros_like(routed)
    return routed, ~routed & (np.asarray(confidence, dtype=float) < t_conf)


def outcome(
    route: np.ndarray,
    confidence: np.ndarray,
    t_route: float,
    t_conf: float,
    small: Optional[np.ndarray] = None,
    large: Optional[np.ndarray] = None,
    weights: Optional[np.ndarray] = None,
) -> OperatingPoint:
    """Share reaching large (weighted mean) and, with labels, quality at one operating point."""
    routed, escalated = reaches_large(route, confidence, t_route, t_conf)
    w = np.ones(len(route)) if weights is None else np.asarray(weights, dtype=float)
    mean = lambda v: float(np.sum(w * v) / np.sum(w))  # noqa: E731
    quality = None
    if small is not None and large is not None:
        quality = mean(np.where(routed | escalated, large, small))
    return OperatingPoint(t_route, t_conf, mean(routed | escalated), mean(routed), mean(escalated), quality)


def candidates(values: np.ndarray, steps: int, above: bool) -> np.ndarray:
    """Threshold candidates: `steps` quantiles of `values`, just below the lowest and just above
    the highest value (all or nothing on one side), and the edge that cuts nothing off: above
    every route score (`above`: nothing routed large), or below every confidence (nothing escalated)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return np.array([NEVER if above else -NEVER])
    qs = np.quantile(finite, np.linspace(0.0, 1.0, steps))
    return np.unique(np.r_[qs, finite.min() - 1e-9, finite.max() + 1e-9, NEVER if above else -NEVER])


def grid(
    route: np.ndarray,
    confidence: list,
    steps: int = 41,
    small=None,
    large=None,
    weights=None,
    route_grid=None,
    conf_grid=None,
) -> list[OperatingPoint]:
    """Every (route threshold, cascade threshold) pair of the two candidate grids."""
    route = np.asarray(route, dtype=float)
    conf = confidence_array(confidence)
    routes = candidates(route, steps, True) if route_grid is None else route_grid
    confs = candidates(conf, steps, False) if conf_grid is None else conf_grid
    return [outcome(route, conf, r, c, small, large, weights) for r in routes for c in confs]


def frontier(points: list[OperatingPoint]) -> list[OperatingPoint]:
    """Pareto front: no other point has lower share and higher quality."""
    ranked = sorted((p for p in points if p.quality is not None), key=lambda p: (p.share, -p.quality))
    front, best = [], -np.inf
    for p in ranked:
        if p.quality > best + 1e-12:
            front.append(p)
            best = p.quality
    return front


def select(
    points: list[OperatingPoint], target_share: Optional[float] = None, quality_floor: Optional[float] = None
) -> OperatingPoint:
    """Best quality with share <= target_share, or the smallest share with quality >= floor.
    Without labels (quality None) and a target share: the largest share <= target, preferring
    the cascade's own threshold over routing (ties broken toward fewer routed)."""
    if (target_share is None) == (quality_floor is None):
        raise ValueError("give exactly one of target_share and quality_floor")
    if target_share is not None:
        ok = [p for p in points if p.share <= target_share + 1e-12]
        if not ok:
            raise ValueError(f"no operating point keeps the share reaching large at or below {target_share}")
        key = (
            (lambda p: (p.quality, -p.share, -p.routed))
            if all(p.quality is not None for p in ok)
            else (lambda p: (p.share, -p.routed))
        )
        return max(ok, key=key)
    ok = [p for p in points if p.quality is not None and p.quality >= quality_floor - 1e-12]
    if not ok:
        raise ValueError(f"no operating point reaches quality {quality_floor}")
    return min(ok, key=lambda p: (p.share, -p.quality))
