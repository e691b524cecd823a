"""The cascade's operating point refitted on judged shadow pairs, by `tier-router tune`'s logic.

The export carries each pair's small-answer confidence under the cascade method that computed it.
On the training slice, the running router's scores and those confidences form one labelled
`TuneSet`; `tune.search` tries every (route threshold, cascade threshold) pair and `tune.choose`
takes the best judged quality whose share reaching the large tier (routed + escalated) is at most
the running policy's share on the same slice: the refit may trade routing for escalation, or drop
escalations that buy nothing, but not spend more. The gate then compares it with the running
policy on the held-out slice, escalations counted as large answers.

A pair without a confidence under the running method (a direct `model:` request, a shadow call
under a method that reads no logprobs, or one recorded under another method) is left out of the
refit and of its held-out comparison, and counted: serving would have computed a real confidence
for it, so counting it as missing (always escalated) would overstate escalation at low
thresholds. The cascade is left out altogether when it is off (`route_only`), starts every request
on small (`cascade_only`: routing is off, nothing to trade), or when the training or the held-out
slice has no pair with a confidence under the running method.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from serve_app.evaluation.cascade_metrics import MISSING
from serve_app.evaluation.dataset import LabelledSet
from serve_app.evaluation.written_thresholds import written_pair


@dataclass(frozen=True)
class RunningCascade:
    """The running cascade as the gate sees it: its method and threshold, and the recorded
    confidences of the training and held-out rows (MISSING where there is none; the refit uses
    only the rows that have one)."""

    method: str
    threshold: float
    train: np.ndarray
    test: np.ndarray
    unscored: int  # rows without a confidence under `method`: left out of the refit

    @property
    def train_rows(self) -> np.ndarray:
        """Indices of the training rows with a confidence under `method`: the refit's rows."""
        return np.flatnonzero(self.train > MISSING)

    @property
    def test_rows(self) -> np.ndarray:
        """Indices of the held-out rows with one: the refit's comparison."""
        return np.flatnonzero(self.test > MISSING)


@dataclass(frozen=True)
class Refit:
    route_threshold: float
    cascade_threshold: float
    target_share: float  # the running policy's share reaching large on the training slice
    train_quality: float


def recorded_confidences(rows: list[dict], method: str) -> dict[str, float]:
    """Row id -> the exported small-answer confidence, for rows whose confidence `method` computed."""
    return {
        str(row.get("id")): float(row["confidence"])
        for row in rows
        if row.get("confidence") is not None and row.get("confidence_method") == method
    }


def running_cascade(
    rows: list[dict], policy, train: LabelledSet, test: LabelledSet
) -> tuple[Optional[RunningCascade], str]:
    """(the running cascade, "") or (None, why it is left out of the comparison), from the
    exported pair rows."""
    if policy.mode != "route_and_cascade":
        return None, f"cascade mode {policy.mode}: not refitted"
    known = recorded_confidences(rows, policy.method)
    pick = lambda data: np.array([known.get(i, MISSING) for i in data.ids], dtype=float)  # noqa: E731
    unscored = sum(i not in known for i in [*train.ids, *test.ids])
    cascade = RunningCascade(policy.method, float(policy.threshold), pick(train), pick(test), unscored)
    if not len(cascade.train_rows) or not len(cascade.test_rows):
        return None, (
            f"no {'training' if not len(cascade.train_rows) else 'held-out'} pair carries a {policy.method} "
            "confidence: cascade left as configured"
        )
    return cascade, ""


def refit(scores: np.ndarray, cascade: RunningCascade, data: LabelledSet, t_route: float, steps: int = 41) -> Refit:
    """Route and cascade thresholds chosen jointly on the training slice for the best quality at no
    more share reaching large than the running policy's: `tune.search`'s grid (only values the
    config holds) and `tune.choose`, on the training rows with a confidence (`scores` are all
    training rows'). The thresholds are as written (`written_thresholds`): they decide every one of
    those rows as the chosen ones do."""
    from serve_app.evaluation.tune import TuneSet, choose, mix_point, search

    rows = cascade.train_rows
    route, confidence = np.asarray(scores, dtype=float)[rows], cascade.train[rows]
    train = TuneSet("train", route, confidence, 1.0, data.weak[rows], data.strong[rows])
    target = mix_point([train], t_route, cascade.threshold).share
    point = choose(search([train], steps).points, target_share=target)
    t_route, t_conf = written_pair(route, confidence, point.route_threshold, point.cascade_threshold)
    return Refit(t_route, t_conf, target, float(mix_point([train], t_route, t_conf).quality))
