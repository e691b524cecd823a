"""The one mapping from route and cascade reasons (headers) to the metric's reason label."""

import pytest

from serve_app.vocabulary import AnswerReason, EscalationReason, RouteReason, answer_reason

R, E, A = RouteReason, EscalationReason, AnswerReason


@pytest.mark.parametrize(
    ("route", "escalation", "escalated", "label"),
    [
        (R.ROUTED, None, False, A.ROUTED),
        (R.DIRECT, None, False, A.DIRECT),
        (R.ROUTER_FALLBACK, None, False, A.FALLBACK),  # header `router-fallback`, metric `fallback`
        (R.CASCADE_ONLY, E.CONFIDENT, False, A.CASCADE_ONLY),
        (R.ROUTED, E.CONFIDENT, False, A.ROUTED),
        (R.ROUTED, E.LOW_CONFIDENCE, True, A.ESCALATED),
        (R.CASCADE_ONLY, E.LOW_CONFIDENCE, True, A.ESCALATED),
        (R.ROUTED, E.SMALL_ERROR, True, A.FALLBACK),
        (R.ROUTED, E.ESCALATION_FAILED, False, A.ROUTED),
    ],
)
def test_answer_reason(route, escalation, escalated, label):
    assert answer_reason(route, escalation, escalated) is label


def test_values_are_the_wire_spelling():
    assert f"{R.ROUTER_FALLBACK}" == "router-fallback" and str(A.FALLBACK) == "fallback"
    assert {e.value for e in E} == {"confident", "low-confidence", "small-error", "escalation-failed"}
