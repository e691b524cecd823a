"""`tier-router eval`: every router on one labelled file, side by side with the baselines.

Baselines: random (every prompt ties, i.e. the expected random router), length, the design's
exemplar heuristic, and the oracle (true gap strong - weak, PGR may exceed 1). Learned routers are
scored held-out within the dataset (own split or k-fold) and, given `across` datasets, also
trained on those only (leave one dataset out). Trained artifacts passed with `--artifact` are
scored as they are; their row names what they were trained on. Every router is measured on the
same rows (a file's `test` split when it has its own), with a bootstrap interval of its APGR.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from serve_app.evaluation.dataset import LabelledSet
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.evaluation.heldout import (
    Embedded,
    across_scores,
    evaluated_rows,
    has_own_split,
    heldout_scores,
)
from serve_app.evaluation.metrics import (
    at_threshold,
    bootstrap_apgr,
    interval,
    quality_curve,
    summarise,
)
from serve_app.routing.learned import (
    KnnStrategyConfig,
    LogisticStrategyConfig,
    RouterArtifact,
)
from serve_app.routing.policy import DEFAULT_THRESHOLD
from serve_app.routing.strategies import (
    ExemplarStrategyConfig,
    LengthStrategyConfig,
    build_scorer,
)

BASELINES = ("random", "length", "exemplar")
NOTES = {
    "random": "no training: the expected value of random routing (all ties)",
    "oracle": "knows both answers: upper bound",
}  # the rows not on the router's 0-10 scale


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
    metrics: dict  # apgr, cpt50, cpt80, apgr_ci (95% bootstrap interval)
    on_scale: bool
    measured: str = ""  # what the number measured: within one dataset, across datasets, no training
    at_threshold: Optional[dict] = None
    curve: dict = field(default_factory=dict)
    bootstrap: Optional[np.ndarray] = None  # APGR on the shared bootstrap resamples (not written out)


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


def load_artifacts(paths: list[str]) -> dict[str, tuple[str, RouterArtifact]]:
    """{row label: (path, artifact)}, labelled by file name (the path only where two names clash);
    every file is read, so a bad path is refused before anything is embedded."""
    names = [Path(p).name for p in paths]
    loaded = {}
    for path, name in zip(paths, names, strict=True):
        try:
            artifact = RouterArtifact.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"--artifact {path}: not a router artifact ({exc})") from None
        loaded[name if names.count(name) == 1 else path] = (path, artifact)
    return loaded


def artifact_scores(path: str, artifact: RouterArtifact, data: LabelledSet, store: EmbeddingStore) -> np.ndarray:
    config = {"knn": KnnStrategyConfig, "logistic": LogisticStrategyConfig}[artifact.kind](artifact=path)
    return np.array(build_scorer(config, CachedEncoder(store)).score(data.prompts))


def describe(data: LabelledSet, rows: int, folds: int, learned, across, artifacts, pooled: bool) -> str:
    """What was done, for the table title: rows measured, then how each kind of router got there."""
    parts = [f"own test split, {rows} of {len(data)} rows" if has_own_split(data) else f"all {rows} rows"]
    if data.dropped:
        parts[0] += f" ({data.dropped} rows without both scores left out)"
    if learned:
        trained = "trained on the train split" if has_own_split(data) else f"{folds}-fold cross-validation"
        parts.append(
            f"{', '.join(learned)} within the dataset ({trained}"
            + ("; other files joined training)" if pooled else ")")
        )
        if across:
            parts.append("LODO rows trained on the other datasets only")
    if artifacts:
        parts.append(f"{len(artifacts)} artifact(s) scored as trained")
    if not learned and not artifacts:
        parts.append("no router trained")
    return "; ".join(parts)


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
    across: list[LabelledSet] = (),
    **params,
) -> EvalReport:
    """Score `data` with baselines, held-out learned routers, leave-one-dataset-out learned routers
    (trained on `across` only) and artifacts; measure each on the same rows. `params` (k, c) go to
    the learned routers' training."""
    loaded = load_artifacts(list(artifacts))
    target = Embedded(data, store.embed(data.prompts, label=data.name))
    others = [Embedded(p, store.embed(p.prompts, label=p.name)) for p in pool]
    index, learned_scores = (
        heldout_scores(target, list(learned), folds, others, progress, **params)
        if learned
        else (evaluated_rows(data), {})
    )
    measured = {name: "prompt only, no training" for name in ("length", "exemplar")}
    scored = {name: s[index] for name, s in baseline_scores(data, store).items()}
    scored.update(learned_scores)
    within = "own split" if has_own_split(data) else f"{folds}-fold CV"
    measured.update({k: f"within one dataset ({within})" for k in learned_scores})
    if across and learned:
        sources = [Embedded(p, store.embed(p.prompts, label=p.name)) for p in across]
        lodo = across_scores(target, index, sources, list(learned), **params)
        names = ", ".join(p.name for p in across)
        scored.update({f"{k} (LODO)": s for k, s in lodo.items()})
        measured.update({f"{k} (LODO)": f"across datasets: trained on {names}" for k in lodo})
    for label, (path, artifact) in loaded.items():
        scored[label] = artifact_scores(path, artifact, data, store)[index]
        measured[label] = artifact_provenance(artifact, data)
    evaluated = data.subset(index)
    scored["oracle"] = evaluated.strong - evaluated.weak
    routers = [
        _measure(name, scores, evaluated, threshold, cost_ratio, name not in NOTES, measured.get(name, ""))
        for name, scores in scored.items()
    ]
    return EvalReport(
        dataset=data.name,
        weak_model=data.weak_model,
        strong_model=data.strong_model,
        rows=len(index),
        protocol=describe(data, len(index), folds, list(learned), across, loaded, bool(others)),
        threshold=threshold,
        cost_ratio=cost_ratio,
        routers=routers,
        quality_weak=float(evaluated.weak.mean()),
        quality_strong=float(evaluated.strong.mean()),
    )


def artifact_provenance(artifact: RouterArtifact, data: LabelledSet) -> str:
    """What an artifact's row measured, from the datasets its meta names. `train` leaves out the
    test rows of a file with its own split; any other file it names was trained on in full."""
    names = [d.get("name", "?") for d in artifact.meta.get("datasets", [])]
    text = f"as trained, on {', '.join(names) or 'unrecorded data'}"
    return text + (" (IN-SAMPLE: trained on these rows)" if data.name in names and not has_own_split(data) else "")


def _measure(
    name: str,
    scores: np.ndarray,
    data: LabelledSet,
    threshold: float,
    cost_ratio: Optional[float],
    on_scale: bool,
    measured: str,
) -> RouterResult:
    curve = quality_curve(scores, data.weak, data.strong)
    samples = bootstrap_apgr(scores, data.weak, data.strong)
    metrics = {**summarise(scores, data.weak, data.strong), "apgr_ci": list(interval(samples))}
    point = at_threshold(scores, data.weak, data.strong, threshold, cost_ratio) if on_scale else None
    return RouterResult(
        name=name,
        scores=scores,
        metrics=metrics,
        on_scale=on_scale,
        measured=measured or NOTES.get(name, ""),
        at_threshold=point.__dict__ if point else None,
        curve=_sampled(curve),
        bootstrap=samples,
    )


def _sampled(curve, points: int = 201) -> dict:
    """The curve on at most `points` shares (exact where there are fewer prompts): JSON stays small."""
    share = curve.share if len(curve.share) <= points else np.linspace(0.0, 1.0, points)
    return {
        "share": share.round(5).tolist(),
        "pgr": np.interp(share, curve.share, curve.pgr).round(5).tolist(),
        "quality": np.interp(share, curve.share, curve.quality).round(5).tolist(),
    }
