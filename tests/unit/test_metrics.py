"""Router metrics on hand-made cases: curve endpoints, APGR of random/perfect/inverted, CPT."""

import numpy as np
import pytest

from serve_app.evaluation.metrics import (
    apgr,
    at_threshold,
    cpt,
    cumulative_gain,
    quality_curve,
    summarise,
)

# 4 prompts: the strong model is right on all, the weak only on the first two
WEAK = np.array([1.0, 1.0, 0.0, 0.0])
STRONG = np.array([1.0, 1.0, 1.0, 1.0])
PERFECT = np.array([0.0, 0.0, 9.0, 8.0])  # the two that need the strong model score highest


def test_curve_endpoints_are_weak_and_strong_quality():
    curve = quality_curve(PERFECT, WEAK, STRONG)
    assert curve.share[0] == 0.0 and curve.share[-1] == 1.0
    assert curve.quality[0] == pytest.approx(WEAK.mean())
    assert curve.quality[-1] == pytest.approx(STRONG.mean())
    assert curve.pgr[0] == 0.0 and curve.pgr[-1] == pytest.approx(1.0)


def test_perfect_router_recovers_the_gap_with_the_fewest_calls():
    curve = quality_curve(PERFECT, WEAK, STRONG)
    assert list(curve.pgr) == pytest.approx([0.0, 0.5, 1.0, 1.0, 1.0])
    assert apgr(curve) == pytest.approx(0.75)  # (0.25 + 0.75 + 1 + 1) / 4
    assert cpt(curve, 0.5) == pytest.approx(0.25)
    assert cpt(curve, 0.8) == pytest.approx(0.25 + 0.6 * 0.25)  # linear between grid points


def test_inverted_router_is_the_mirror_image():
    curve = quality_curve(-PERFECT, WEAK, STRONG)
    assert list(curve.pgr) == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])
    assert apgr(curve) == pytest.approx(0.25)
    assert cpt(curve, 0.5) == pytest.approx(0.75)


def test_constant_score_is_exactly_the_expected_random_router():
    curve = quality_curve(np.zeros(4), WEAK, STRONG)
    assert list(curve.pgr) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert apgr(curve) == pytest.approx(0.5)
    assert cpt(curve, 0.8) == pytest.approx(0.8)


def test_random_scores_average_to_half():
    rng = np.random.default_rng(1)
    weak = rng.integers(0, 2, 400).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, 400))
    values = [summarise(rng.random(400), weak, strong)["apgr"] for _ in range(50)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.02)


def test_ties_are_broken_in_expectation():
    # two tied prompts, one with gain 1 and one with gain 0: taking one of them gains 0.5
    assert list(cumulative_gain(np.array([1.0, 1.0]), np.array([1.0, 0.0]))) == [0.0, 0.5, 1.0]


def test_oracle_can_exceed_full_recovery_when_the_weak_model_sometimes_wins():
    weak, strong = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 1.0])
    curve = quality_curve(strong - weak, weak, strong)
    assert curve.pgr.max() == pytest.approx(2.0) and curve.pgr[-1] == pytest.approx(1.0)


def test_no_gap_is_an_error():
    with pytest.raises(ValueError):
        quality_curve(np.zeros(2), np.ones(2), np.ones(2))


def test_threshold_point_split_quality_and_cost():
    point = at_threshold(PERFECT, WEAK, STRONG, threshold=8.0, cost_ratio=0.2)
    assert point.strong_share == 0.25  # strictly above 8.0: one prompt
    assert point.quality == pytest.approx(0.75)
    assert point.quality_vs_strong == pytest.approx(0.75)
    assert point.pgr == pytest.approx(0.5)
    assert point.cost_vs_all_large == pytest.approx(0.25 + 0.75 * 0.2)
    assert at_threshold(PERFECT, WEAK, STRONG, 4.0).cost_vs_all_large is None
