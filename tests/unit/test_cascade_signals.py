"""Confidence signals, the calibrated confidence, and the mc_letter grader."""

import json
import math

import numpy as np
import pytest

from serve_app.cascade import signals
from serve_app.cascade.calibrated import Calibration, calibrated_confidence, load_calibration
from serve_app.evaluation.calibration_fit import FEATURES, cross_fitted, feature_matrix, fit, predict
from serve_app.evaluation.graders import chosen_letter, get_grader, load_gold_letters


def lp(*tokens):
    """An OpenAI logprobs object from (token, p, [alternative p, ...]) triples."""
    return {
        "content": [
            {"token": t, "logprob": math.log(p), "top_logprobs": [{"token": "x", "logprob": math.log(a)} for a in alts]}
            for t, p, alts in tokens
        ]
    }


ANSWER = lp((" ", 0.99, [0.99]), ("B", 0.6, [0.6, 0.3]), (".", 0.9, [0.9, 0.05]), (" 4", 0.5, [0.5, 0.4]))


def test_token_signals_on_a_known_answer():
    assert signals.mean_prob(ANSWER) == pytest.approx((0.99 * 0.6 * 0.9 * 0.5) ** 0.25)
    assert signals.min_prob(ANSWER) == pytest.approx(0.5)
    assert signals.first_prob(ANSWER) == pytest.approx(0.6)  # the blank token is skipped
    assert signals.first_margin(ANSWER) == pytest.approx(0.3)
    assert signals.lead3_prob(ANSWER) == pytest.approx((0.6 * 0.9 * 0.5) ** (1 / 3))
    # one alternative only: the margin is that token's probability
    assert signals.mean_margin(ANSWER) == pytest.approx((0.99 + 0.3 + 0.85 + 0.1) / 4)
    assert signals.blended(ANSWER, 0.5) == pytest.approx(
        0.5 * signals.mean_prob(ANSWER) + 0.5 * signals.mean_margin(ANSWER)
    )


def test_blended_is_the_original_logprobs_method():
    from serve_app.cascade.confidence import logprob_confidence

    assert signals.blended(ANSWER, 0.3) == pytest.approx(logprob_confidence(ANSWER, 0.3))


@pytest.mark.parametrize(
    "bad",
    [
        None,
        {},
        {"content": []},
        {"content": [{"token": "a", "logprob": float("nan")}]},
        {"content": [{"token": "a", "logprob": "x"}]},
        "text",
    ],
)
def test_missing_or_broken_logprobs_give_none(bad):
    for fn in signals.LOGPROB_SIGNALS.values():
        assert fn(bad) is None
    assert signals.logprob_features(bad) is None


def test_agreement_is_token_f1():
    assert signals.agreement("A. 4", "A. 4") == 1.0
    assert signals.agreement("A. 4", "C. 2") == 0.0
    assert signals.agreement("the cat sat", "the cat ran") == pytest.approx(2 / 3)
    assert signals.agreement(None, "x") is None
    assert signals.agreement("", "") == 1.0


def test_features_hold_every_signal_and_length():
    features = signals.logprob_features(ANSWER)
    assert set(features) == set(FEATURES)
    assert features["log_tokens"] == pytest.approx(math.log(4))


@pytest.mark.parametrize(
    "answer,letter",
    [
        ("B", "B"),
        ("B.", "B"),
        ("(C) 12", "C"),
        ("D) text", "D"),
        ("A. 4", "A"),
        ("C 12", "C"),
        ("The answer is B.", "B"),
        ("answer: (d)", "D"),
        ("A good question, but", None),
        ("", None),
        (None, None),
        ("no idea", None),
    ],
)
def test_chosen_letter(answer, letter):
    assert chosen_letter(answer) == letter


def test_chosen_letter_by_option_text_and_grading():
    prompt = "Which?\nA. red\nB. green\nC. blue\nD. yellow\nAnswer:"
    assert chosen_letter("green, because", prompt) == "B"
    grade = get_grader("mc_letter").grade
    assert grade("green", "B", prompt) == 1.0 and grade("C. blue", "B", prompt) == 0.0
    with pytest.raises(ValueError, match="unknown grader"):
        get_grader("nope")


def test_gold_letters(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "q1", "answer": "b"}\n\n{"id": "q2", "answer": "D"}\n')
    assert load_gold_letters(str(path)) == {"q1": "B", "q2": "D"}
    path.write_text('{"id": "q1", "answer": "E"}\n')
    with pytest.raises(ValueError, match="gold.jsonl:1"):
        load_gold_letters(str(path))


def _synthetic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(float)
    x = rng.normal(size=(n, len(FEATURES)))
    x[:, 4] += 1.5 * y  # first_prob carries the signal
    return x, y


def test_calibration_fit_learns_and_cross_fits_without_seeing_rows():
    x, y = _synthetic()
    calibration = fit(x, y)
    assert calibration.coef[4] > 0.5 and abs(calibration.coef[0]) < calibration.coef[4]
    out = cross_fitted(x, y, folds=5)
    assert out.shape == y.shape and 0 <= out.min() and out.max() <= 1
    # out-of-fold predictions of a row differ from a model that saw it (not its training rows)
    assert not np.allclose(out, predict(calibration, x))
    with pytest.raises(ValueError, match="both right and wrong"):
        fit(x, np.zeros(len(y)))


def test_calibration_round_trip_and_serving_confidence(tmp_path):
    x, y = _synthetic()
    calibration = fit(x, y)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(calibration.to_json()))
    loaded = load_calibration(str(path))
    assert loaded == calibration
    value = calibrated_confidence(ANSWER, loaded)
    features = signals.logprob_features(ANSWER)
    row = np.array([[features[f] for f in FEATURES]])
    assert value == pytest.approx(float(predict(calibration, row)[0]))
    assert calibrated_confidence(None, loaded) is None
    with pytest.raises(ValueError):
        Calibration(("a",), (0.0,), (0.0,), (1.0,), 0.0)


def test_feature_matrix_skips_missing_rows():
    x, mask = feature_matrix([None, {f: 1.0 for f in FEATURES}])
    assert x.shape == (1, len(FEATURES)) and mask.tolist() == [False, True]
