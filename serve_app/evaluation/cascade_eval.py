"""The cascade on real answers: grade a small tier's cached answers, compute every confidence
signal of each, and measure each signal as a cascade against each large model's recorded scores.

Signals and the answer they judge:
- logprob signals (`serve_app.cascade.signals.LOGPROB_SIGNALS`) and `calibrated` (cross-fitted):
  the greedy `answer` call;
- `agreement`: the greedy answer against one sampled answer (needs the `sample` call);
- `self_assessment`: its own call, graded on the `content` it returns (what that method serves).
"""

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from serve_app.cascade.confidence import parse_self_assessment
from serve_app.cascade.signals import LOGPROB_SIGNALS, agreement, logprob_features
from serve_app.evaluation import calibration_fit
from serve_app.evaluation.cascade_data import CascadeItem
from serve_app.evaluation.cascade_metrics import SignalResult, evaluate_signal
from serve_app.evaluation.graders import Grader

SERVABLE = {
    **{name: "one call" for name in LOGPROB_SIGNALS},
    "calibrated": "one call, fitted weights",
    "self_assessment": "one call, changed prompt",
    "agreement": "two calls",
}


@dataclass
class AnswerRecord:
    """One item's small-tier answers, their grades and every signal."""

    item: CascadeItem
    correct: float  # grade of the greedy answer
    signals: dict[str, Optional[float]] = field(default_factory=dict)
    features: Optional[dict[str, float]] = None
    self_assessment_correct: Optional[float] = None  # grade of the self-assessment call's content
    logprobs: Any = None  # the greedy answer's raw logprobs


def build_record(item: CascadeItem, calls: dict[str, dict[str, Any]], grader: Grader) -> Optional[AnswerRecord]:
    """The record of one item, or None when its greedy answer is not cached."""
    answer = calls.get("answer")
    if answer is None:
        return None
    logprobs = answer.get("logprobs")
    record = AnswerRecord(
        item,
        grader.grade(answer.get("content"), item.reference, item.prompt),
        {name: fn(logprobs) for name, fn in LOGPROB_SIGNALS.items()},
        logprob_features(logprobs),
        logprobs=logprobs,
    )
    if "sample" in calls:
        record.signals["agreement"] = agreement(answer.get("content"), calls["sample"].get("content"))
    if "self_assessment" in calls:
        sa = calls["self_assessment"]
        content, confidence = parse_self_assessment(sa.get("content"), sa.get("finish_reason") == "length")
        record.signals["self_assessment"] = confidence
        record.self_assessment_correct = grader.grade(content, item.reference, item.prompt)
    return record


def add_cross_fitted(records: list[AnswerRecord], folds: int = 5, seed: int = 0) -> None:
    """`calibrated` signal of every record, out-of-fold (never scored by a model that saw it)."""
    x, mask = calibration_fit.feature_matrix([r.features for r in records])
    y = np.array([r.correct for r in records])[mask]
    predicted = iter(calibration_fit.cross_fitted(x, y, folds, seed))
    for record, has in zip(records, mask, strict=True):
        record.signals["calibrated"] = float(next(predicted)) if has else None


@dataclass
class CascadeEvaluation:
    """Every signal against every large model, on one set of records."""

    records: list[AnswerRecord]
    small_quality: float
    large_quality: dict[str, float]
    results: dict[str, list[SignalResult]]  # large model -> one result per signal
    rows: dict[str, int]  # signal -> rows it was measured on


def signal_rows(records: list[AnswerRecord], signal: str) -> tuple[list[AnswerRecord], np.ndarray]:
    """(records where `signal` was collected, the grade of the answer that signal would serve)."""
    if signal == "self_assessment":
        kept = [r for r in records if r.self_assessment_correct is not None]
        return kept, np.array([r.self_assessment_correct for r in kept])
    kept = [r for r in records if signal in r.signals]
    return kept, np.array([r.correct for r in kept])


def evaluate_records(records: list[AnswerRecord], large_models: list[str]) -> CascadeEvaluation:
    signals = sorted({s for r in records for s in r.signals}, key=_signal_order)
    results: dict[str, list[SignalResult]] = {m: [] for m in large_models}
    rows = {}
    for signal in signals:
        kept, small = signal_rows(records, signal)
        rows[signal] = len(kept)
        confidence = [r.signals[signal] for r in kept]
        for model in large_models:
            large = np.array([r.item.large_scores[model] for r in kept])
            results[model].append(evaluate_signal(signal, confidence, small, large))
    return CascadeEvaluation(
        records,
        float(np.mean([r.correct for r in records])),
        {m: float(np.mean([r.item.large_scores[m] for r in records])) for m in large_models},
        results,
        rows,
    )


def _signal_order(name: str) -> tuple[int, str]:
    order = [*LOGPROB_SIGNALS, "calibrated", "agreement", "self_assessment"]
    return (order.index(name) if name in order else len(order), name)
