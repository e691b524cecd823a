"""Confidence of a small answer under a cascade method that reads the answer's own logprobs
(every method but `self_assessment`): one function the serving cascade and `tune` share."""

from typing import Any, Optional

from serve_app.cascade.calibrated import calibrated_confidence, load_calibration
from serve_app.cascade.signals import LOGPROB_SIGNALS, blended

LOGPROB_METHODS = (*LOGPROB_SIGNALS, "calibrated")


def answer_confidence(method: str, logprobs: Any, policy: Any) -> Optional[float]:
    """Confidence in [0, 1] of an answer with these logprobs, or None (escalate). `policy` is a
    `CascadePolicy` (its `logprob_weight` and `calibration_file` are read)."""
    if method == "logprobs":
        return blended(logprobs, policy.logprob_weight)
    if method == "calibrated":
        return calibrated_confidence(logprobs, load_calibration(policy.calibration_file))
    if method in LOGPROB_SIGNALS:
        return LOGPROB_SIGNALS[method](logprobs)
    raise ValueError(f"{method!r} is not a logprob confidence method ({', '.join(LOGPROB_METHODS)})")
