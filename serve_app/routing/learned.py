"""Learned strategies on MiniLM embeddings: a k-nearest-neighbour router and a logistic one.

Both load a trained artifact (`tier-router train`): a NumPy `.npz` with arrays and a JSON `meta`
entry, no prompt text. Both output `10 * p`, p in [0, 1] the strong model's estimated *win rate*
on the prompt: p = (1 + gap) / 2 with gap = (strong - weak) / score range of the training dataset.
For correct/wrong data that is P(only strong right) + P(both or neither right) / 2, RouteLLM's
strong-win-rate with ties counted half. So 5.0 means "neither model is expected to do better"; most
prompts score near 5, and the exemplar default threshold 4.0 sends nearly everything to the large
tier: pick the threshold with `tier-router calibrate --share ...` instead.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Sequence

import numpy as np
from pydantic import Field

from serve_app.strict_model import StrictModel

ARTIFACT_FORMAT = 1


@dataclass
class RouterArtifact:
    """A trained router: `kind` picks the scorer; arrays hold only numbers."""

    kind: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {**self.meta, "kind": self.kind, "format": ARTIFACT_FORMAT}
        with open(path, "wb") as handle:
            np.savez_compressed(handle, meta=np.array(json.dumps(meta, sort_keys=True)), **self.arrays)
        return path

    @classmethod
    def load(cls, path: str | Path, kind: Optional[str] = None) -> "RouterArtifact":
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {name: data[name] for name in data.files if name != "meta"}
        if meta.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"{path}: unsupported router artifact format {meta.get('format')!r}")
        if kind is not None and meta.get("kind") != kind:
            raise ValueError(f"{path}: artifact is a {meta.get('kind')!r} router, not {kind!r}")
        return cls(kind=meta["kind"], arrays=arrays, meta=meta)


class KnnStrategyConfig(StrictModel):
    """k nearest training prompts by MiniLM cosine; score = 10 * their mean target."""

    name: Literal["knn"] = Field("knn", description="Strategy name.")
    artifact: str = Field(description="Path of a kNN router artifact (.npz) written by `tier-router train`.")
    k: Optional[int] = Field(None, gt=0, description="Neighbours to average; null uses the artifact's k.")


class LogisticStrategyConfig(StrictModel):
    """Logistic regression on the MiniLM embedding plus log prompt length; score = 10 * probability."""

    name: Literal["logistic"] = Field("logistic", description="Strategy name.")
    artifact: str = Field(description="Path of a logistic router artifact (.npz) written by `tier-router train`.")


def length_feature(texts: Sequence[str]) -> np.ndarray:
    """log(1 + words) / log(1001): prompt length as one extra feature next to the embedding."""
    words = np.array([len(t.split()) for t in texts], dtype=np.float64)
    return (np.log1p(words) / np.log1p(1000.0)).reshape(-1, 1)


def logistic_features(vectors: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    return np.hstack([vectors.astype(np.float64), length_feature(texts)])


def knn_probability(
    vectors: np.ndarray, train: np.ndarray, targets: np.ndarray, k: int, chunk: int = 1024
) -> np.ndarray:
    """Mean target of the k most cosine-similar training rows, for each row of `vectors`."""
    k = max(1, min(k, len(train)))
    out = np.empty(len(vectors), dtype=np.float64)
    train = train.astype(np.float32, copy=False)
    for start in range(0, len(vectors), chunk):
        sims = vectors[start : start + chunk].astype(np.float32) @ train.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out[start : start + chunk] = targets[top].mean(axis=1)
    return out


def logistic_probability(vectors: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    logits = vectors.astype(np.float64) @ coef.astype(np.float64) + float(intercept)
    return 1.0 / (1.0 + np.exp(-logits))


def to_scores(p: np.ndarray) -> list[float]:
    return [float(x) for x in 10.0 * np.clip(p, 0.0, 1.0)]


class _EmbeddingScorer:
    """Embeds texts with the router's encoder and scores the vectors."""

    def __init__(self, encoder: Any):
        if encoder is None:
            raise ValueError(f"the {self.name} strategy needs an encoder")
        self._encoder = encoder

    def score(self, texts: Sequence[str]) -> list[float]:
        return self.score_vectors(self._encoder.encode(list(texts)), texts)


class KnnScorer(_EmbeddingScorer):
    name = "knn"

    def __init__(self, config: KnnStrategyConfig, encoder: Any = None):
        super().__init__(encoder)
        artifact = RouterArtifact.load(config.artifact, kind="knn")
        self._train = artifact.arrays["vectors"].astype(np.float32)
        self._targets = artifact.arrays["targets"].astype(np.float64)
        self.k = config.k or int(artifact.meta.get("k", 10))

    def score_vectors(self, vectors: np.ndarray, texts: Sequence[str] = ()) -> list[float]:
        return to_scores(knn_probability(vectors, self._train, self._targets, self.k))


class LogisticScorer(_EmbeddingScorer):
    name = "logistic"

    def __init__(self, config: LogisticStrategyConfig, encoder: Any = None):
        super().__init__(encoder)
        artifact = RouterArtifact.load(config.artifact, kind="logistic")
        self._coef = artifact.arrays["coef"]
        self._intercept = float(artifact.arrays["intercept"])

    def score_vectors(self, vectors: np.ndarray, texts: Sequence[str]) -> list[float]:
        return to_scores(logistic_probability(logistic_features(vectors, texts), self._coef, self._intercept))
