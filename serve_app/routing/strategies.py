"""Complexity strategies: one small interface, one registry.

A strategy turns texts into complexity scores on a 0-10 scale; the router compares a score with
the threshold. Each strategy has its own config model, chosen in YAML by `name:`.
"""

from pathlib import Path
from typing import Callable, Dict, Literal, Optional, Protocol, Sequence, Type

import numpy as np
import yaml
from pydantic import BaseModel, Field

from serve_app.strict_model import StrictModel

DEFAULT_EXEMPLARS = Path(__file__).with_name("exemplars.yaml")


class Encoder(Protocol):
    """Anything that maps texts to unit-normalised embeddings."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class Scorer(Protocol):
    """The strategy interface: complexity in [0, 10] for each text."""

    name: str

    def score(self, texts: Sequence[str]) -> list[float]: ...


class LengthStrategyConfig(StrictModel):
    """The baseline: longer prompts are treated as more complex."""

    name: Literal["length"] = Field("length", description="Strategy name.")
    words_at_max: int = Field(200, gt=0, description="Word count that scores 10; shorter prompts scale linearly.")


class ExemplarStrategyConfig(StrictModel):
    """The design's heuristic: nearest simple vs complex exemplar by MiniLM cosine similarity."""

    name: Literal["exemplar"] = Field("exemplar", description="Strategy name.")
    exemplars_file: Optional[str] = Field(
        None,
        description="YAML file with `simple:` and `complex:` lists; null uses the packaged set.",
    )
    simple: Optional[list[str]] = Field(
        None, description="Inline simple exemplars; when set, replaces the file's `simple` list."
    )
    complex: Optional[list[str]] = Field(
        None, description="Inline complex exemplars; when set, replaces the file's `complex` list."
    )

    def load_exemplars(self) -> tuple[list[str], list[str]]:
        """The (simple, complex) exemplar lists this config names."""
        path = Path(self.exemplars_file) if self.exemplars_file else DEFAULT_EXEMPLARS
        data = yaml.safe_load(path.read_text()) or {}
        simple = self.simple if self.simple is not None else data.get("simple", [])
        complex_ = self.complex if self.complex is not None else data.get("complex", [])
        if not simple or not complex_:
            raise ValueError(f"exemplar sets must both be non-empty (from {path})")
        return [str(s) for s in simple], [str(c) for c in complex_]


class LengthScorer:
    """Score = 10 * min(1, words / words_at_max)."""

    name = "length"

    def __init__(self, config: LengthStrategyConfig, encoder: Optional[Encoder] = None):
        self.words_at_max = config.words_at_max

    def score(self, texts: Sequence[str]) -> list[float]:
        return [10.0 * min(1.0, len(t.split()) / self.words_at_max) for t in texts]


def exemplar_complexity(sim_simple: np.ndarray, sim_complex: np.ndarray) -> np.ndarray:
    """The design's formula, 10 * c / (s + c + 0.01), on best-match cosines clipped to [0, 1]
    (clipping keeps the score in [0, 10] when a prompt is dissimilar to both sets)."""
    s = np.clip(sim_simple, 0.0, 1.0)
    c = np.clip(sim_complex, 0.0, 1.0)
    return 10.0 * c / (s + c + 0.01)


class ExemplarScorer:
    """max cosine similarity to the complex set against the simple set (the design's router)."""

    name = "exemplar"

    def __init__(self, config: ExemplarStrategyConfig, encoder: Optional[Encoder] = None):
        if encoder is None:
            raise ValueError("the exemplar strategy needs an encoder")
        self._encoder = encoder
        simple, complex_ = config.load_exemplars()
        self._simple = encoder.encode(simple)
        self._complex = encoder.encode(complex_)

    def score(self, texts: Sequence[str]) -> list[float]:
        return self.score_vectors(self._encoder.encode(list(texts)))

    def score_vectors(self, vectors: np.ndarray) -> list[float]:
        """Scores of texts already embedded by the same encoder (evaluation reuses cached vectors)."""
        sim_simple = (vectors @ self._simple.T).max(axis=1)
        sim_complex = (vectors @ self._complex.T).max(axis=1)
        return [float(x) for x in exemplar_complexity(sim_simple, sim_complex)]


# Learned strategies (trained artifacts) live in their own module; imported here for the registry.
from serve_app.routing.learned import (  # noqa: E402
    KnnScorer,
    KnnStrategyConfig,
    LogisticScorer,
    LogisticStrategyConfig,
)

StrategyFactory = Callable[[BaseModel, Optional[Encoder]], Scorer]

# name -> (config model, scorer class, needs an encoder)
STRATEGIES: Dict[str, tuple[Type[BaseModel], StrategyFactory, bool]] = {
    "length": (LengthStrategyConfig, LengthScorer, False),
    "exemplar": (ExemplarStrategyConfig, ExemplarScorer, True),
    "knn": (KnnStrategyConfig, KnnScorer, True),
    "logistic": (LogisticStrategyConfig, LogisticScorer, True),
}

StrategyConfig = LengthStrategyConfig | ExemplarStrategyConfig | KnnStrategyConfig | LogisticStrategyConfig


def needs_encoder(config: BaseModel) -> bool:
    return STRATEGIES[config.name][2]


def build_scorer(config: BaseModel, encoder: Optional[Encoder] = None) -> Scorer:
    """Instantiate the strategy that `config.name` names."""
    _, factory, _ = STRATEGIES[config.name]
    return factory(config, encoder)
