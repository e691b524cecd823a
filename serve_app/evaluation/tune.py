"""One operating point for routing and the cascade, chosen jointly on a mix of prompt sets.

Each set holds, per prompt, the route score of the config's strategy and the confidence of the
small tier's real answer under the config's cascade method; a labelled set also holds the small
answer's grade and the large model's recorded score. The share of traffic reaching the large
model (routed + escalated) is the weighted mean over the sets (equal weight per set by default);
quality is measured on the labelled sets only. `choose` then takes the best quality with share <=
a target, or the smallest share with quality >= a floor; without labels, a target share split
between routing and escalation by `cascade_part`.
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from serve_app.evaluation.cascade_metrics import confidence_array
from serve_app.evaluation.joint import OperatingPoint, candidates, reaches_large, select

ROUTE_RANGE = (0.0, 10.0)  # router.policy.threshold's range


@dataclass
class TuneSet:
    """One prompt set of the mix."""

    name: str
    route: np.ndarray
    confidence: np.ndarray  # missing confidences as the lowest value (always escalate)
    weight: float = 1.0
    small: Optional[np.ndarray] = None  # grades of the small answers (labelled sets)
    large: Optional[np.ndarray] = None  # recorded large-model scores (labelled sets)

    @classmethod
    def build(cls, name, route, confidence, weight=1.0, small=None, large=None) -> "TuneSet":
        as_array = lambda v: None if v is None else np.asarray(v, dtype=float)  # noqa: E731
        return cls(
            name,
            np.asarray(route, dtype=float),
            confidence_array(list(confidence)),
            weight,
            as_array(small),
            as_array(large),
        )

    @property
    def labelled(self) -> bool:
        return self.small is not None and self.large is not None

    def resampled(self, rng: np.random.Generator) -> "TuneSet":
        pick = rng.integers(0, len(self.route), len(self.route))
        return TuneSet(
            self.name,
            self.route[pick],
            self.confidence[pick],
            self.weight,
            None if self.small is None else self.small[pick],
            None if self.large is None else self.large[pick],
        )


@dataclass(frozen=True)
class SetOutcome:
    share: float
    routed: float
    escalated: float
    quality: Optional[float]


def set_outcome(s: TuneSet, t_route: float, t_conf: float) -> SetOutcome:
    routed, escalated = reaches_large(s.route, s.confidence, t_route, t_conf)
    quality = float(np.mean(np.where(routed | escalated, s.large, s.small))) if s.labelled else None
    return SetOutcome(float(np.mean(routed | escalated)), float(np.mean(routed)), float(np.mean(escalated)), quality)


def mix_point(sets: list[TuneSet], t_route: float, t_conf: float) -> OperatingPoint:
    outcomes = [set_outcome(s, t_route, t_conf) for s in sets]
    w = np.array([s.weight for s in sets], dtype=float) / sum(s.weight for s in sets)
    labelled = [(o, s.weight) for o, s in zip(outcomes, sets, strict=True) if s.labelled]
    quality = (sum(o.quality * wt for o, wt in labelled) / sum(wt for _, wt in labelled)) if labelled else None
    return OperatingPoint(
        t_route,
        t_conf,
        float(w @ [o.share for o in outcomes]),
        float(w @ [o.routed for o in outcomes]),
        float(w @ [o.escalated for o in outcomes]),
        quality,
        max(o.share for o in outcomes),
    )


@dataclass
class Grid:
    routes: np.ndarray
    confs: np.ndarray
    points: list[OperatingPoint] = field(default_factory=list)


def search(sets: list[TuneSet], steps: int = 41, cascade: bool = True) -> Grid:
    """Every pair of candidate thresholds (quantiles of the pooled scores and confidences) that
    the config can hold, so the point chosen is the point written: route thresholds within
    router.policy.threshold's 0-10, cascade thresholds at least 0. Below 0 (down to -inf, which
    escalates nothing, not even a missing confidence) a cascade threshold would mean something
    serving cannot do, since serving escalates a missing confidence at any threshold; such a
    candidate is evaluated as 0, which escalates exactly the missing ones (real confidences are
    >= 0). Without `cascade`, route thresholds only, nothing escalated (written as route_only)."""
    from serve_app.evaluation.joint import NEVER

    routes = np.unique(np.clip(candidates(np.concatenate([s.route for s in sets]), steps, above=True), *ROUTE_RANGE))
    confs = (
        np.unique(np.clip(candidates(np.concatenate([s.confidence for s in sets]), steps, above=False), 0.0, None))
        if cascade
        else np.array([-NEVER])
    )
    return Grid(routes, confs, [mix_point(sets, r, c) for r in routes for c in confs])


def choose(
    points: list[OperatingPoint],
    target_share: Optional[float] = None,
    quality_floor: Optional[float] = None,
    cascade_part: float = 0.5,
    each_set: bool = False,
) -> OperatingPoint:
    """The operating point: by quality when there are labels, else the largest share within the
    target whose escalated part is closest to `cascade_part` of it. `each_set`: the target holds
    for every set of the mix, not only for their weighted mean."""
    if each_set and target_share is not None:
        points = [p for p in points if p.worst_share is None or p.worst_share <= target_share + 1e-12]
    if all(p.quality is not None for p in points) or quality_floor is not None:
        return select(points, target_share, quality_floor)
    if target_share is None:
        raise ValueError("without labels, give a target share")
    ok = [p for p in points if p.share <= target_share + 1e-12]
    if not ok:
        raise ValueError(f"no operating point keeps the share at or below {target_share}")
    best_share = max(p.share for p in ok)
    near = [p for p in ok if p.share >= best_share - 0.02]
    return min(near, key=lambda p: (abs(p.escalated - cascade_part * p.share), -p.share))


def bootstrap(
    sets: list[TuneSet], t_route: float, t_conf: float, boots: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95% intervals of the share (and quality) at fixed thresholds, prompts resampled within
    each set. They do not include the optimism of choosing the thresholds on the same data."""
    rng = np.random.default_rng(seed)
    shares, qualities = [], []
    for _ in range(boots):
        point = mix_point([s.resampled(rng) for s in sets], t_route, t_conf)
        shares.append(point.share)
        if point.quality is not None:
            qualities.append(point.quality)
    out = {"share": tuple(float(v) for v in np.percentile(shares, [2.5, 97.5]))}
    if qualities:
        out["quality"] = tuple(float(v) for v in np.percentile(qualities, [2.5, 97.5]))
    return out


def curves(sets: list[TuneSet], grid: Grid) -> dict[str, list[OperatingPoint]]:
    """Router alone (never escalate), cascade alone (nothing routed large), and both (the Pareto
    front of the whole grid), on the labelled sets."""
    from serve_app.evaluation.joint import NEVER, frontier

    labelled = [s for s in sets if s.labelled]
    if not labelled:
        return {}
    router = [mix_point(labelled, r, -NEVER) for r in grid.routes]
    cascade = [mix_point(labelled, NEVER, c) for c in grid.confs]
    both = frontier([mix_point(labelled, r, c) for r in grid.routes for c in grid.confs])
    return {
        "router alone": sorted(router, key=lambda p: p.share),
        "cascade alone": sorted(cascade, key=lambda p: p.share),
        "router + cascade": both,
    }
