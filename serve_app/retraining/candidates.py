"""Candidate routers trained on judged pairs, and every policy's scores on the held-out slice.

Candidates are the learned kinds (`knn`, `logistic`) fitted on the training slice; the one to gate
is chosen by cross-validation on the training slice alone, so the held-out slice judges exactly one
candidate (choosing the best on the test slice would flatter it)."""

from dataclasses import dataclass

import numpy as np

from serve_app.evaluation.dataset import LabelledSet
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.evaluation.evaluate import CachedEncoder
from serve_app.evaluation.heldout import Embedded, heldout_scores
from serve_app.evaluation.joint import reaches_large
from serve_app.evaluation.training import TrainingRows, fit, predict
from serve_app.evaluation.written_thresholds import written
from serve_app.retraining.gate import routed_quality
from serve_app.retraining.operating_point import HeldOutPairs, OperatingPointTuner, RunningPoint
from serve_app.routing.learned import RouterArtifact
from serve_app.routing.strategies import build_scorer, needs_encoder


def split_by_column(data: LabelledSet) -> tuple[LabelledSet, LabelledSet]:
    """(train, test) rows by the export's `split` column (test = the most recent slice)."""
    split = np.array(data.splits)
    return data.subset(np.flatnonzero(split != "test")), data.subset(np.flatnonzero(split == "test"))


def policy_scores(strategy, prompts: list[str], store: EmbeddingStore) -> np.ndarray:
    """Scores of a configured strategy, computed by the router's own scorer classes."""
    encoder = CachedEncoder(store) if needs_encoder(strategy) else None
    return np.array(build_scorer(strategy, encoder).score(prompts), dtype=float)


def training_rows(train: Embedded) -> TrainingRows:
    return TrainingRows.empty(train.vectors.shape[1]).add(
        train.vectors, train.data.normalised_gap(), train.source(), train.data.prompts
    )


def cross_validated_choice(
    train: Embedded, kinds: list[str], running_share: float, tuner: OperatingPointTuner, folds: int = 5
) -> tuple[str, dict[str, float]]:
    """The kind with the best out-of-fold routed quality on the training slice, at the running share."""
    index, scores = heldout_scores(train, kinds, folds, progress=False)
    data = train.data.subset(index)
    pairs = HeldOutPairs(data.weak, data.strong)
    running = RunningPoint(running_share)
    quality = {}
    for kind in kinds:
        point = tuner.tune(scores[kind], pairs, running)
        quality[kind] = float(routed_quality(scores[kind], point.router_threshold, data.weak, data.strong).mean())
    return max(quality, key=quality.get), quality


@dataclass
class Scored:
    """One policy on the held-out slice."""

    name: str
    scores: np.ndarray
    threshold: float
    quality: np.ndarray  # per held-out prompt
    artifact: RouterArtifact | None = None
    note: str = ""
    confidence: np.ndarray | None = None  # the small answers' recorded cascade confidence
    cascade_threshold: float | None = None  # None: the cascade is not accounted

    @property
    def large_share(self) -> float:
        """Share answered by the large tier: routed there, or escalated."""
        routed, escalated = reaches_large(self.scores, self.confidence, self.threshold, self.cascade_threshold)
        return float(np.mean(routed | escalated))

    @property
    def escalated_share(self) -> float:
        _, escalated = reaches_large(self.scores, self.confidence, self.threshold, self.cascade_threshold)
        return float(np.mean(escalated))


def score_candidate(
    kind: str,
    train: Embedded,
    test: Embedded,
    running: RunningPoint,
    tuner: OperatingPointTuner,
    cascade: tuple[np.ndarray, float] | None = None,
) -> Scored:
    """`cascade`: the held-out rows' confidences and the running cascade threshold, which the
    candidate keeps (its escalations count as large answers)."""
    artifact = fit(kind, training_rows(train))
    scores = predict(artifact, test.vectors, test.data.prompts)
    point = tuner.tune(scores, HeldOutPairs(test.data.weak, test.data.strong), running)
    threshold = written(point.router_threshold, scores, above=True)  # the value `retrain` writes
    confidence, t_conf = cascade or (None, None)
    quality = routed_quality(scores, threshold, test.data.weak, test.data.strong, confidence, t_conf)
    return Scored(kind, scores, threshold, quality, artifact, point.note, confidence, t_conf)
