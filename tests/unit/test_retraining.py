"""Retraining on judged pairs: time windows, the bootstrap gate both ways, the share-matched
operating point, the retrain command end to end on a toy encoder, and the drift table."""

import argparse
import json

import numpy as np
import pytest

from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.operations.windows import held_out_mask, in_window, parse_time
from serve_app.retraining import retrain_command
from serve_app.retraining.drift import JudgedRow, drift_table, format_table, period_start, plot, score_bucket
from serve_app.retraining.gate import bootstrap_ci, decide, routed_quality
from serve_app.retraining.operating_point import HeldOutPairs, RunningPoint, ShareMatchedTuner
from serve_app.serve_config import BUILDER


def test_parse_time_accepts_iso_and_ages():
    assert parse_time("2026-11-23") == pytest.approx(1795392000.0)
    assert parse_time("2026-11-23T12:00:00+02:00") == pytest.approx(1795392000.0 + 10 * 3600)
    assert parse_time("7d", now=1000.0 + 7 * 86400) == pytest.approx(1000.0)
    assert parse_time("12h", now=50000.0) == pytest.approx(50000.0 - 43200)
    assert parse_time(None) is None
    with pytest.raises(ValueError, match="ISO"):
        parse_time("last week")


def test_windows_and_the_newest_slice_as_test():
    assert in_window(5, 5, 6) and not in_window(6, 5, 6) and in_window(1, None, None)
    ts = [10, 1, 5, 7, 7, 3]
    assert held_out_mask(ts, test_since=7).tolist() == [True, False, False, True, True, False]
    assert held_out_mask(ts, test_share=0.5).tolist() == [True, False, False, True, True, False]
    assert held_out_mask(ts, test_share=0.2).tolist() == [True, False, False, False, False, False]
    assert not held_out_mask(ts).any() and held_out_mask(ts, test_share=1.0).all()


def test_routed_quality_takes_the_large_answer_above_the_threshold():
    q = routed_quality(np.array([1, 5, 9]), 4.0, np.array([0.2, 0.2, 0.2]), np.array([0.9, 0.9, 0.9]))
    assert q.tolist() == [0.2, 0.9, 0.9]


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible():
    diff = np.r_[np.ones(60), np.zeros(40)]
    low, high = bootstrap_ci(diff, 4000, 0.95, seed=1)
    assert low < 0.6 < high and 0.45 < low and high < 0.75
    assert bootstrap_ci(diff, 4000, 0.95, seed=1) == (low, high)


def test_gate_promotes_a_clear_winner():
    rng = np.random.default_rng(0)
    running = rng.uniform(0, 1, 200)
    decision = decide(running + 0.1, running, margin=0.05)
    assert decision.promote and decision.ci_low > 0 and decision.difference == pytest.approx(0.1)


def test_gate_refuses_below_margin_with_a_ci_on_zero_and_on_too_few_rows():
    rng = np.random.default_rng(0)
    running = rng.uniform(0, 1, 200)
    small_gain = decide(running + 0.01, running, margin=0.05)
    assert not small_gain.promote and "below the margin" in small_gain.reason
    noise = np.tile([2.1, -1.9], 20)  # mean gain 0.1, but most of it is noise
    noisy = decide(running[:40] + noise, running[:40], margin=0.05)
    assert not noisy.promote and "includes 0" in noisy.reason and noisy.ci_low <= 0 < noisy.ci_high
    few = decide(running[:10] + 0.5, running[:10], margin=0.05, min_rows=30)
    assert not few.promote and "only 10" in few.reason
    assert not decide(np.array([]), np.array([]), 0.05).promote
    costlier = decide(running + 0.1, running, margin=0.05, extra_large_share=0.2)
    assert not costlier.promote and "more traffic to the large tier" in costlier.reason
    assert decide(running + 0.1, running, margin=0.05, extra_large_share=0.04).promote  # within tolerance


def test_share_matched_threshold_spends_what_the_running_policy_spends():
    running = RunningPoint.of(np.arange(10.0), 6.5)  # 7, 8, 9 go to large: 30%
    point = ShareMatchedTuner().tune(np.linspace(0, 1, 10), HeldOutPairs(np.zeros(10), np.ones(10)), running)
    assert running.large_share == pytest.approx(0.3)
    assert np.mean(np.linspace(0, 1, 10) > point.router_threshold) == pytest.approx(0.3)


class AxisEncoder:
    """2-d unit vectors: 'hard' prompts point along y, others along x."""

    def encode(self, texts):
        return np.array([[0.1, 1.0] if "hard" in t else [1.0, 0.1] for t in texts], dtype=np.float32) / np.hypot(1, 0.1)


def write_pairs(path, informative: bool, n=240, seed=0):
    """Judged pairs: on `hard` prompts the large answer wins, on the others it is a tie (or, not
    informative, outcomes at random); prompt length says nothing. The newest quarter is the test."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as out:
        for i in range(n):
            hard = i % 2 == 0
            words = " ".join(["word"] * int(rng.integers(1, 60)))
            large_wins = hard if informative else bool(rng.integers(0, 2))
            small = 0.0 if large_wins else 0.5
            out.write(
                json.dumps(
                    {
                        "id": f"shadow-{i}",
                        "prompt": f"{'hard' if hard else 'easy'} {i} {words}",
                        "category": "c",
                        "split": "test" if i >= 0.75 * n else "train",
                        "ts": 1000.0 + i,
                        "scores": {"small": small, "large": 1.0 - small},
                    }
                )
                + "\n"
            )


CONFIG = f"""# the operator's serve config; comments survive retraining
applications:
  - name: app
    import_path: {BUILDER}
    args:
      router:
        policy:
          threshold: 1.5  # length of about 30 words
          strategy: {{name: length, words_at_max: 200}}
      tiers:
        small: {{engine: echo, model_source: echo}}
        large: {{engine: echo, model_source: echo}}
"""


def retrain_args(tmp_path, pairs, dry_run=False, margin=0.02):
    config = tmp_path / "serve.yaml"
    if not config.exists():
        config.write_text(CONFIG)
    return argparse.Namespace(
        pairs=str(pairs),
        config=str(config),
        app=None,
        kinds="knn,logistic",
        artifact_dir=str(tmp_path / "routers"),
        margin=margin,
        confidence=0.95,
        resamples=1000,
        min_test=30,
        folds=3,
        seed=0,
        dry_run=dry_run,
    )


@pytest.fixture
def toy_store(tmp_path, monkeypatch):
    store = EmbeddingStore(encoder_factory=AxisEncoder, folder=tmp_path / "emb", progress=False)
    monkeypatch.setattr("serve_app.evaluation.embeddings.EmbeddingStore", lambda **kw: store)
    return store


def test_retrain_promotes_a_winner_and_writes_a_content_hashed_artifact(tmp_path, toy_store, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, informative=True)
    args = retrain_args(tmp_path, pairs, dry_run=True)
    assert retrain_command.run(args) == 0
    dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dry["decision"]["promote"] and "written" not in dry and not (tmp_path / "routers").exists()
    running, *candidates = dry["policies"]
    assert running["policy"] == "running:length" and all(
        abs(c["large_share"] - running["large_share"]) <= 0.1 for c in candidates
    )  # tied scores: nearest share
    assert retrain_command.run(retrain_args(tmp_path, pairs)) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    written = result["written"]
    text = (tmp_path / "serve.yaml").read_text()
    assert "comments survive retraining" in text and written["strategy"]["artifact"] in text
    artifact = written["strategy"]["artifact"]
    assert f"/routers/{result['candidate']}-" in artifact and artifact.endswith(".npz")
    from serve_app.serve_config import load_yaml, tier_router_apps

    policy = tier_router_apps(load_yaml(tmp_path / "serve.yaml"))[0].config.router.policy
    assert policy.strategy.name == result["candidate"] and policy.threshold == pytest.approx(
        written["threshold"], abs=1e-4
    )


def test_retrain_refuses_a_candidate_that_does_not_win(tmp_path, toy_store, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_pairs(pairs, informative=False)
    before = CONFIG
    assert retrain_command.run(retrain_args(tmp_path, pairs)) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not result["decision"]["promote"] and "written" not in result
    assert (tmp_path / "serve.yaml").read_text() == before and not (tmp_path / "routers").exists()


def test_score_buckets_and_periods():
    assert [score_bucket(s) for s in (0.0, 1.99, 2.0, 7.5, 10.0, None)] == ["0-2", "0-2", "2-4", "6-8", "8-10", "none"]
    assert period_start(parse_time("2026-11-26T15:00"), "week") == "2026-11-23"  # a Monday
    assert period_start(parse_time("2026-11-26T15:00"), "day") == "2026-11-26"


def test_drift_table_by_bucket_and_category(tmp_path):
    week1, week2 = parse_time("2026-11-16T10:00"), parse_time("2026-11-23T10:00")
    rows = (
        [JudgedRow(week1, "tie", 1.0, "billing")] * 3
        + [JudgedRow(week1, "small", 1.0, "billing")]
        + [JudgedRow(week2, "large", 1.0, "billing")] * 3
        + [JudgedRow(week2, "tie", 1.0, "billing")]
        + [JudgedRow(week2, "large", 9.0, None)]
    )
    cells = drift_table(rows, by="bucket")
    assert [(c.period, c.group, c.pairs, c.small_not_worse) for c in cells] == [
        ("2026-11-16", "0-2", 4, 1.0),
        ("2026-11-23", "0-2", 4, 0.25),
        ("2026-11-23", "8-10", 1, 0.0),
    ]
    assert cells[0].small_wins == 0.25 and cells[1].large_wins == 0.75
    by_category = drift_table(rows, by="category")
    assert {(c.period, c.group) for c in by_category} == {
        ("2026-11-16", "billing"),
        ("2026-11-23", "billing"),
        ("2026-11-23", "uncategorized"),
    }
    assert "25.0%" in format_table(cells, "bucket")
    plot(cells, "bucket", str(tmp_path / "drift.png"))
    assert (tmp_path / "drift.png").read_bytes()[:4] == b"\x89PNG"


def test_the_gate_and_tune_agree_on_which_prompts_reach_large():
    """One definition (`joint.reaches_large`): routed above the threshold, or routed small with a
    confidence below the cascade threshold (a missing one lowest); no cascade, no escalation."""
    from serve_app.evaluation.cascade_metrics import MISSING
    from serve_app.evaluation.tune import TuneSet, mix_point
    from serve_app.retraining.candidates import Scored

    scores, conf = np.array([1.0, 2.0, 8.0, 9.0, 3.0]), np.array([0.9, 0.1, 0.8, 0.2, MISSING])
    small, large = np.array([1.0, 0.0, 0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0, 0.0, 1.0])
    quality = routed_quality(scores, 5.0, small, large, conf, 0.5)
    assert quality.tolist() == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert quality.mean() == mix_point([TuneSet("s", scores, conf, 1.0, small, large)], 5.0, 0.5).quality
    assert routed_quality(scores, 5.0, small, large, conf, None).tolist() == [1.0, 0.0, 1.0, 0.0, 0.0]
    scored = Scored("p", scores, 5.0, quality, confidence=conf, cascade_threshold=0.5)
    assert (scored.large_share, scored.escalated_share) == (0.8, 0.4)
    assert Scored("p", scores, 5.0, quality, confidence=conf).escalated_share == 0.0
