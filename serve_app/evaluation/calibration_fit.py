"""Fit the `calibrated` confidence (logistic regression over logprob signals -> P(small answer is
right)) and score it honestly: every reported number is cross-fitted (each answer scored by a
model that never saw it)."""

from typing import Any, Optional

import numpy as np

from serve_app.cascade.calibrated import Calibration
from serve_app.cascade.signals import LOGPROB_SIGNALS

FEATURES = (*LOGPROB_SIGNALS, "log_tokens")  # what `signals.logprob_features` returns


def feature_matrix(rows: list[Optional[dict[str, float]]], features=FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """(X of the rows that have features, mask of those rows)."""
    mask = np.array([r is not None for r in rows], dtype=bool)
    x = np.array([[r[f] for f in features] for r in rows if r is not None], dtype=float)
    return x.reshape(-1, len(features)), mask


def fit(
    x: np.ndarray, y: np.ndarray, features=FEATURES, c: float = 1.0, meta: Optional[dict[str, Any]] = None
) -> Calibration:
    """L2 logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    if len(set(np.asarray(y > 0.5, dtype=int))) < 2:
        raise ValueError("calibration needs both right and wrong answers")
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale <= 1e-12] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, (y > 0.5).astype(int))
    return Calibration(
        tuple(features),
        tuple(mean.tolist()),
        tuple(scale.tolist()),
        tuple(model.coef_[0].tolist()),
        float(model.intercept_[0]),
        {"rows": int(len(y)), "positive_rate": float(np.mean(y > 0.5)), **(meta or {})},
    )


def predict(calibration: Calibration, x: np.ndarray) -> np.ndarray:
    z = calibration.intercept + ((x - np.array(calibration.mean)) / np.array(calibration.scale)) @ np.array(
        calibration.coef
    )
    return 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700)))


def cross_fitted(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0, features=FEATURES) -> np.ndarray:
    """Out-of-fold P(right) for every row: k folds, each scored by a model fitted on the others."""
    n = len(y)
    if n < 2 * folds:
        raise ValueError(f"cross-fitting needs at least {2 * folds} labelled answers, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        out[part] = predict(fit(x[train], y[train], features), x[part])
    return out
