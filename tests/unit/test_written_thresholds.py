"""The thresholds `tune` and `retrain` write decide the data as the evaluated ones did: rounded to 4
decimals toward the side that keeps every value where it was, else exact."""

from types import SimpleNamespace

import numpy as np
import pytest

from serve_app.evaluation.joint import reaches_large
from serve_app.evaluation.tune import TuneSet, choose, mix_point, search
from serve_app.evaluation.tune_report import summary
from serve_app.evaluation.written_thresholds import written

TUNE_ARGS = SimpleNamespace(target_share=1.0, quality_floor=None, no_cascade=False, each_set=False)


def test_the_reviewers_repro_writes_what_tune_chose_and_prints_it():
    """Confidences [0.12344, 0.05]: both small answers lose, escalating both is best. The search
    picks 0.12344 + 1e-9; plain rounding wrote 0.1234, which escalates only one."""
    s = TuneSet.build("t", [0.0, 0.0], [0.12344, 0.05], small=[0.0, 0.0], large=[1.0, 1.0])
    chosen = choose(search([s]).points, target_share=1.0)
    assert chosen.cascade_threshold == pytest.approx(0.12344 + 1e-9) and chosen.share == chosen.quality == 1.0
    out = summary([s], chosen, {"share": (1.0, 1.0), "quality": (1.0, 1.0)}, "min_prob", "length", TUNE_ARGS)
    assert out["cascade_threshold"] == 0.1235  # rounded up: 0.12344 stays below it
    assert out["share_to_large"] == out["quality"] == out["escalated"] == 1.0
    written_point = mix_point([s], out["route_threshold"], out["cascade_threshold"])
    assert (written_point.share, written_point.quality) == (1.0, 1.0)


def test_a_route_threshold_just_above_a_score_is_written_above_it():
    """Route only: the chosen threshold keeps 5.00004 on small; plain rounding (5.0) would route it."""
    s = TuneSet.build("t", [5.00004, 1.0], [0.5, 0.5], small=[1.0, 1.0], large=[0.0, 0.0])
    chosen = mix_point([s], 5.00004 + 1e-9, -np.inf)
    args = SimpleNamespace(**{**vars(TUNE_ARGS), "no_cascade": True})
    out = summary([s], chosen, {"share": (0.0, 0.0)}, "min_prob", "length", args)
    assert (out["route_threshold"], out["cascade_threshold"]) == (5.0001, None)
    assert out["share_to_large"] == out["routed"] == 0.0 and out["quality"] == 1.0
    below = summary([s], mix_point([s], 5.00004 - 1e-9, -np.inf), {"share": (0.5, 0.5)}, "m", "length", args)
    assert below["route_threshold"] == 5.0 and below["share_to_large"] == 0.5


def test_rounding_goes_the_way_that_keeps_every_value_on_its_side():
    # route (score > t): the nearest 4-decimal value would put 1.23456 above it
    assert written(1.23456 + 1e-9, [1.23456], above=True) == 1.2346
    assert written(1.23456 - 1e-9, [1.23456], above=True) == 1.2345
    # cascade (confidence < t)
    assert written(0.12344 + 1e-9, [0.12344], above=False) == 0.1235
    assert written(0.12346 - 1e-9, [0.12346], above=False) == 0.1234
    assert written(0.3, [0.1, 0.5], above=False) == 0.3
    assert written(0.0, [-1e9, 0.2], above=False) == 0.0


def test_without_a_4_decimal_value_between_the_data_it_writes_the_exact_value():
    values = [0.12341, 0.12344]  # t between them: no 4-decimal value separates them
    t = 0.12341 + 1e-9
    assert written(t, values, above=False) == t and written(t, values, above=True) == t
    for above in (True, False):
        w = written(t, values, above)
        assert np.array_equal(
            reaches_large(np.array(values), None, w, None)[0] if above else np.array(values) < w,
            reaches_large(np.array(values), None, t, None)[0] if above else np.array(values) < t,
        )


@pytest.mark.parametrize("seed", range(5))
def test_written_thresholds_decide_random_data_as_chosen(seed):
    rng = np.random.default_rng(seed)
    route = np.round(rng.uniform(0, 10, 200), 5)
    confidence = np.round(rng.uniform(0, 1, 200), 5)
    small, large = rng.uniform(0, 1, 200), rng.uniform(0, 1, 200)
    s = TuneSet.build("r", route, confidence, small=small, large=large)
    for p in search([s], steps=41).points[::7]:
        out = summary([s], p, {"share": (0.0, 1.0)}, "min_prob", "length", TUNE_ARGS)
        got = reaches_large(route, s.confidence, out["route_threshold"], out["cascade_threshold"])
        want = reaches_large(route, s.confidence, p.route_threshold, p.cascade_threshold)
        assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
        assert out["share_to_large"] == round(p.share, 4) and out["quality"] == round(p.quality, 4)
