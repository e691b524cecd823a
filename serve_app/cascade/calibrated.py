"""The `calibrated` confidence: a logistic regression over the answer's logprob signals, fitted
on labelled answers (`tier-router eval-cascade --fit-out`), giving P(the small answer is right).

The fitted weights are a small JSON file: `{"features": [...], "mean": [...], "scale": [...],
"coef": [...], "intercept": x, "meta": {...}}`. Applying it needs no scikit-learn.
"""

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from serve_app.cascade.signals import logprob_features

PACKAGE_DIR = Path(__file__).resolve().parent / "calibrations"


@dataclass(frozen=True)
class Calibration:
    """Standardised logistic regression weights over named features."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        sizes = {len(self.features), len(self.mean), len(self.scale), len(self.coef)}
        if len(sizes) != 1 or not self.features:
            raise ValueError("calibration: features, mean, scale and coef must have the same nonzero length")
        if any(s <= 0 for s in self.scale):
            raise ValueError("calibration: every scale must be positive")

    def probability(self, values: dict[str, float]) -> float:
        z = self.intercept + sum(
            c * (values[f] - m) / s for f, m, s, c in zip(self.features, self.mean, self.scale, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Calibration":
        return cls(
            tuple(data["features"]),
            tuple(map(float, data["mean"])),
            tuple(map(float, data["scale"])),
            tuple(map(float, data["coef"])),
            float(data["intercept"]),
            dict(data.get("meta") or {}),
        )


def resolve_path(name: str) -> Path:
    """A calibration file: a path, or the name of one shipped in `serve_app/cascade/calibrations/`."""
    path = Path(name).expanduser()
    if path.exists():
        return path
    shipped = PACKAGE_DIR / name
    if shipped.exists():
        return shipped
    raise FileNotFoundError(f"calibration file {name!r} not found (nor in {PACKAGE_DIR.name}/)")


@lru_cache(maxsize=8)
def load_calibration(name: str) -> Calibration:
    calibration = Calibration.from_json(json.loads(resolve_path(name).read_text(encoding="utf-8")))
    return calibration


def calibrated_confidence(logprobs: Any, calibration: Calibration) -> Optional[float]:
    """P(right) of one answer from its logprobs; None without logprobs (escalates)."""
    values = logprob_features(logprobs)
    if values is None:
        return None
    missing = [f for f in calibration.features if f not in values]
    if missing:
        raise ValueError(f"calibration needs unknown features {missing}")
    return calibration.probability(values)
