"""Fitting learned routers on MiniLM embeddings, and the held-out protocols that judge them.

Targets are per-dataset normalised score gaps (strong - weak) / score range, in [-1, 1], so several
datasets with different grading train one router, turned into a soft win rate w = (1 + gap) / 2.
kNN averages its neighbours' w (k picked by leave-one-out on the training rows); the logistic
router fits w as a soft label (sample-weighted positive and negative copies of each row) on the
embedding plus log prompt length. Both score 10 * p.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from serve_app.evaluation.embeddings import ENCODER_ID
from serve_app.evaluation.metrics import summarise
from serve_app.routing.learned import (
    RouterArtifact,
    knn_probability,
    length_feature,
    logistic_features,
    logistic_probability,
)

LEARNED_KINDS = ("knn", "logistic")
K_CANDIDATES = (5, 10, 20, 50, 100, 200)
DEFAULT_C = 1.0
NEAR_DUPLICATE_COSINE = 0.95


@dataclass
class TrainingRows:
    """Embeddings and normalised gaps, pooled from one or more datasets."""

    vectors: np.ndarray
    gaps: np.ndarray
    sources: list[dict]  # per dataset: name, rows, weak, strong, score_range
    lengths: np.ndarray  # (rows, 1) length feature of each prompt

    @classmethod
    def empty(cls, dim: int = 384) -> "TrainingRows":
        return cls(np.zeros((0, dim), dtype=np.float32), np.zeros(0), [], np.zeros((0, 1)))

    def add(self, vectors: np.ndarray, gaps: np.ndarray, source: dict, texts) -> "TrainingRows":
        lengths = length_feature(texts)
        return TrainingRows(
            np.vstack([self.vectors, vectors]),
            np.r_[self.gaps, gaps],
            self.sources + [{**source, "rows": int(len(gaps))}],
            np.vstack([self.lengths, lengths]),
        )

    def win_rates(self) -> np.ndarray:
        return (1.0 + np.clip(self.gaps, -1.0, 1.0)) / 2.0


def drop_near_duplicates(
    train: np.ndarray, held_out: np.ndarray, cosine: float = NEAR_DUPLICATE_COSINE, chunk: int = 2048
) -> np.ndarray:
    """Mask of training rows whose cosine to every held-out row is below `cosine`: a prompt that
    appears in two datasets (UIUC reuses GSM8K problems) must not leak into its own evaluation."""
    keep = np.ones(len(train), dtype=bool)
    if not len(held_out):
        return keep
    for start in range(0, len(train), chunk):
        sims = train[start : start + chunk] @ held_out.T
        keep[start : start + chunk] = sims.max(axis=1) < cosine
    return keep


def choose_k(rows: TrainingRows, candidates=K_CANDIDATES, chunk: int = 1024) -> int:
    """The k whose leave-one-out kNN scores on the training rows reach the best APGR."""
    targets, n = rows.win_rates(), len(rows.gaps)
    usable = [k for k in candidates if k <= max(1, n // 2)] or [max(1, n // 2)]
    top = max(usable)
    predictions = {k: np.empty(n) for k in usable}
    vectors = rows.vectors.astype(np.float32)
    for start in range(0, n, chunk):
        sims = vectors[start : start + chunk] @ vectors.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf  # leave self out
        part = np.argpartition(-sims, top - 1, axis=1)[:, :top]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
        nearest = np.take_along_axis(part, order, axis=1)  # top neighbours, nearest first
        for k in usable:
            predictions[k][start : start + chunk] = targets[nearest[:, :k]].mean(axis=1)
    gap = rows.gaps
    if np.sum(gap) <= 0:
        return usable[0]
    quality = {k: summarise(p, np.zeros(n), gap)["apgr"] for k, p in predictions.items()}
    return max(quality, key=quality.get)


def fit_knn(rows: TrainingRows, k: Optional[int] = None) -> RouterArtifact:
    k = int(k or choose_k(rows))
    return RouterArtifact(
        kind="knn",
        arrays={"vectors": rows.vectors.astype(np.float16), "targets": rows.win_rates().astype(np.float32)},
        meta=_meta(rows, k=k, target="win rate (1 + normalised gap) / 2; p = mean of the k nearest"),
    )


def fit_logistic(rows: TrainingRows, c: float = DEFAULT_C) -> RouterArtifact:
    from sklearn.linear_model import LogisticRegression

    soft = rows.win_rates()
    features = np.hstack([rows.vectors.astype(np.float64), rows.lengths])
    x = np.vstack([features, features])
    y = np.r_[np.ones(len(soft)), np.zeros(len(soft))]
    weights = np.r_[soft, 1.0 - soft]
    model = LogisticRegression(C=c, max_iter=1000).fit(x, y, sample_weight=weights)
    return RouterArtifact(
        kind="logistic",
        arrays={"coef": model.coef_[0].astype(np.float64), "intercept": np.array(model.intercept_[0])},
        meta=_meta(
            rows,
            c=float(c),
            target="soft label: win rate (1 + normalised gap) / 2",
            features="MiniLM embedding + log1p(words) / log1p(1000)",
        ),
    )


def fit(kind: str, rows: TrainingRows, k: Optional[int] = None, c: float = DEFAULT_C) -> RouterArtifact:
    if kind == "knn":
        return fit_knn(rows, k)
    if kind == "logistic":
        return fit_logistic(rows, c)
    raise ValueError(f"unknown learned router {kind!r}; choose from {LEARNED_KINDS}")


def predict(artifact: RouterArtifact, vectors: np.ndarray, texts, k: Optional[int] = None) -> np.ndarray:
    """Scores 0-10 of embedded prompts, exactly as the router's scorer computes them."""
    if artifact.kind == "knn":
        p = knn_probability(
            vectors,
            artifact.arrays["vectors"].astype(np.float32),
            artifact.arrays["targets"].astype(np.float64),
            k or artifact.meta["k"],
        )
    else:
        p = logistic_probability(
            logistic_features(vectors, texts), artifact.arrays["coef"], float(artifact.arrays["intercept"])
        )
    return 10.0 * np.clip(p, 0.0, 1.0)


def _meta(rows: TrainingRows, **extra) -> dict:
    return {
        "encoder": ENCODER_ID,
        "rows": int(len(rows.gaps)),
        "datasets": rows.sources,
        "score": "10 * clip(p, 0, 1)",
        **extra,
    }


def fold_indices(splits: list[str], folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, held-out) index pairs: the file's own train/test split when it has both, else
    `folds`-fold cross-validation with a fixed shuffle."""
    split = np.array(splits)
    if (split == "train").any() and (split == "test").any():
        return [(np.flatnonzero(split == "train"), np.flatnonzero(split == "test"))]
    index = np.random.default_rng(seed).permutation(len(split))
    parts = np.array_split(index, folds)
    return [(np.sort(np.setdiff1d(index, part)), np.sort(part)) for part in parts]
