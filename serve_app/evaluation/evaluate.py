"""`tier-router eval`: every router on one labelled file, side by side with the baselines.

Baselines: random (every prompt ties, i.e. the expected random router), length, the design's
exemplar heuristic, and the oracle (true gap strong - weak, PGR may exceed 1). Learned routers are
scored held-out (own split or k-fold); trained artifacts passed with `--artifact` are scored as they
are, so do not pass one trained on the same rows.
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from serve_app.evaluation.dataset import LabelledSet
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.evaluation.heldout import Embedded, heldout_scores, protocol_of
from serve_app.evaluation.metrics import at_threshold, quality_curve, summarise
from serve_app.routing.learned import KnnStrategyConfig, LogisticStrategyConfig, RouterArtifact
from serve_app.routing.policy import DEFAULT_THRESHOLD
from serve_app.routing.strategies import (
    ExemplarStrategyConfig,
    LengthStrategyConfig,
    build_scorer,
)

BASELINES = ("random", "length", "exemplar")
ON_SCALE = {"length", "exemplar"}  # scores on the router's 0-10 scale (plus learned ones)


class CachedEncoder:
    """The router's `Encoder` interface over the embedding cache, so evaluation runs the very
    scorer classes the router deployment runs."""

    def __init__(self, store: EmbeddingStore):
        self._store = store

    def encode(self, texts):
        return self._store.embed(list(texts), label="embed")


@dataclass
class RouterResult:
    name: str
    scores: np.ndarray
    metrics: dict
    on_scale: bool
    note: str = ""
    at_threshold: Optional[dict] = None
    curve: dict = field(default_factory=dict)


@dataclass
class EvalReport:
    dataset: str
    weak_model: str
    strong_model: str
    rows: int
    protocol: str
    threshold: float
    cost_ratio: Optional[float]
    routers: list[RouterResult]
    quality_weak: float
    quality_strong: float


def baseline_scores(data: LabelledSet, store: EmbeddingStore) -> dict[str, np.ndarray]:
    encoder = CachedEncoder(store)
    return {
        "random": np.zeros(len(data)),
        "length": np.array(build_scorer(LengthStrategyConfig()).score(data.prompts)),
        "exemplar": np.array(build_scorer(ExemplarStrategyConfig(), encoder).score(data.prompts)),
    }


def artifact_scores(path: str, data: LabelledSet, store: EmbeddingStore) -> tuple[str, np.ndarray]:
    kind = RouterArtifact.load(path).kind
    config = {"knn": KnnStrategyConfig, "logistic": LogisticStrategyConfig}[kind](artifact=path)
    scores = build_scorer(config, CachedEncoder(store)).score(data.prompts)
    return f"{kind}:{path}", np.array(scores)


def evaluate(
    data: LabelledSet,
    store: EmbeddingStore,
    learned: list[str] = (),
    artifacts: list[str] = (),
    pool: list[LabelledSet] = (),
    folds: int = 5,
    threshold: float = DEFAULT_THRESHOLD,
    cost_ratio: Optional[float] = None,
    progress: bool = True,
    **params,
) -> EvalReport:
    """Score `data` with baselines, held-out learned routers and artifacts; measure each.
    `params` (k, c) go to the learned routers' training."""
    target = Embedded(data, store.embed(data.prompts, label=data.name))
    others = [Embedded(p, store.embed(p.prompts, label=p.name)) for p in pool]
    index, learned_scores = (
        heldout_scores(target, list(learned), folds, others, progress, **params)
        if learned
        else (np.arange(len(data)), {})
    )
    scored = {name: s[index] for name, s in baseline_scores(data, store).items()}
    scored.update(learned_scores)
    scored.update(artifact_scores(path, data, store) for path in artifacts)
    evaluated = data.subset(index)
    scored["oracle"] = evaluated.strong - evaluated.weak
    routers = [
        _measure(name, scores, evaluated, threshold, cost_ratio, learned, bool(others))
        for name, scores in scored.items()
    ]
    return EvalReport(
        dataset=data.name,
        weak_model=data.weak_model,
        strong_model=data.strong_model,
        rows=len(index),
        protocol=protocol_of(data, folds),
        threshold=threshold,
        cost_ratio=cost_ratio,
        routers=routers,
        quality_weak=float(evaluated.weak.mean()),
        quality_strong=float(evaluated.strong.mean()),
    )


def _measure(
    name: str,
    scores: np.ndarray,
    data: LabelledSet,
    threshold: float,
    cost_ratio: Optional[float],
    learned: list[str],
    pooled: bool,
) -> RouterResult:
    on_scale = name in ON_SCALE or name in learned or ":" in name
    curve = quality_curve(scores, data.weak, data.strong)
    note = {"random": "expected value (all ties)", "oracle": "knows the answers: upper bound"}.get(name, "")
    if name in learned:
        note = "held-out" + (", trained with the other datasets too" if pooled else "")
    point = at_threshold(scores, data.weak, data.strong, threshold, cost_ratio) if on_scale else None
    return RouterResult(
        name=name,
        scores=scores,
        metrics=summarise(scores, data.weak, data.strong),
        on_scale=on_scale,
        note=note,
        at_threshold=point.__dict__ if point else None,
        curve=_sampled(curve),
    )


def _sampled(curve, points: int = 201) -> dict:
    """The curve on at most `points` shares (exact where there are fewer prompts): JSON stays small."""
    share = curve.share if len(curve.share) <= points else np.linspace(0.0, 1.0, points)
    return {
        "share": share.round(5).tolist(),
        "pgr": np.interp(share, curve.share, curve.pgr).round(5).tolist(),
        "quality": np.interp(share, curve.share, curve.quality).round(5).tolist(),
    }
