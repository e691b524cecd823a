"""The confidence the serving cascade would compute for a cached answer, per method, and its
honest counterpart on labelled records (`calibrated` there is the cross-fitted value)."""

from typing import Any, Optional

from serve_app.cascade.confidence import parse_self_assessment
from serve_app.cascade.methods import answer_confidence


def served_confidence(method: str, response: dict[str, Any], policy: Any) -> Optional[float]:
    """`response` is a cached slim answer of the call kind the method makes."""
    if method == "self_assessment":
        return parse_self_assessment(response.get("content"), response.get("finish_reason") == "length")[1]
    return answer_confidence(method, response.get("logprobs"), policy)


def labelled_confidence(method: str, record: Any, policy: Any) -> Optional[float]:
    """Confidence of a labelled `AnswerRecord`: never a value fitted on that record's own grade."""
    if method in ("self_assessment", "calibrated"):
        return record.signals.get(method)
    return answer_confidence(method, record.logprobs, policy)
