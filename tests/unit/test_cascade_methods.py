"""The serving cascade with the measured confidence methods (scripted tiers, no Ray, no model)."""

import json

import pytest

from serve_app import headers as H
from serve_app.cascade.calibrated import PACKAGE_DIR, load_calibration
from serve_app.cascade.methods import LOGPROB_METHODS, answer_confidence
from serve_app.cascade.policy import CascadePolicy
from tests.unit.fakes import scripted_answer, token_logprobs
from tests.unit.test_cascade import flow_with, run
from tests.unit.test_chat_flow import body

# the first token is a coin flip, the rest are certain: mean-based signals say "sure", first_prob not
FIRST_UNSURE = token_logprobs([(0.4, 0.35)] + [(0.999, 0.0005)] * 7)


def test_first_token_method_escalates_where_the_mean_does_not():
    flow, small, large = flow_with(scripted_answer("A. 4", FIRST_UNSURE), method="first_prob", threshold=0.5)
    result, _ = run(flow, body(content="q"))
    assert result.headers[H.CONFIDENCE_METHOD] == "first_prob"
    assert float(result.headers[H.CONFIDENCE]) == pytest.approx(0.4, abs=1e-3)
    assert result.headers[H.ESCALATED] == "yes" and small.requests[0].logprobs is True
    flow, _, large = flow_with(scripted_answer("A. 4", FIRST_UNSURE), method="mean_prob", threshold=0.5)
    result, _ = run(flow, body(content="q"))
    assert result.headers[H.ESCALATED] == "no" and not large.requests


def test_per_request_method_override_and_every_method_has_a_confidence():
    flow, _, _ = flow_with(scripted_answer("A. 4", FIRST_UNSURE), threshold=0.5)
    result, _ = run(flow, body(content="q", tier_router={"cascade": {"method": "min_prob"}}))
    assert result.headers[H.CONFIDENCE_METHOD] == "min_prob" and result.headers[H.ESCALATED] == "yes"
    policy = CascadePolicy()
    for method in LOGPROB_METHODS:
        value = answer_confidence(method, FIRST_UNSURE, policy)
        assert 0.0 <= value <= 1.0, method
        assert answer_confidence(method, None, policy) is None
    with pytest.raises(ValueError):
        answer_confidence("self_assessment", FIRST_UNSURE, policy)


def test_calibrated_method_reads_its_weights_file(tmp_path):
    weights = {"features": ["first_prob"], "mean": [0.5], "scale": [0.1], "coef": [2.0], "intercept": 0.0}
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(weights))
    flow, _, _ = flow_with(
        scripted_answer("A. 4", FIRST_UNSURE), method="calibrated", calibration_file=str(path), threshold=0.5
    )
    result, _ = run(flow, body(content="q"))
    # P = sigmoid(2 * (0.4 - 0.5) / 0.1) = sigmoid(-2)
    assert float(result.headers[H.CONFIDENCE]) == pytest.approx(0.1192, abs=1e-3)
    assert result.headers[H.ESCALATED] == "yes"


def test_shipped_calibration_files_load():
    files = sorted(PACKAGE_DIR.glob("*.json"))
    assert files, "no calibration shipped"
    for path in files:
        calibration = load_calibration(path.name)
        assert calibration.meta.get("rows", 0) >= 100
        CascadePolicy(method="calibrated", calibration_file=path.name)
