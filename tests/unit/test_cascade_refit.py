"""The cascade threshold learned from traffic: every pair records the small answer's confidence
(cascade-judged, asked in shadow with logprobs, or escalated), the store migrates, the export
carries it, and `retrain` refits the route + cascade operating point and gates it both ways."""

import asyncio
import json
import math
import sqlite3

import numpy as np
import pytest

from serve_app.cascade.policy import CascadePolicy
from serve_app.chat_flow import ChatResult
from serve_app.evaluation.dataset import LabelledSet
from serve_app.operations.observer import RequestObserver, escalated_pair
from serve_app.operations.shadow import SCHEMA_VERSION, ShadowPair, ShadowStore
from serve_app.operations.shadow_export import export_pairs
from serve_app.operations.shadow_runner import ShadowRunner
from serve_app.retraining import retrain_command
from serve_app.retraining.cascade_refit import RunningCascade, recorded_confidences, refit, running_cascade
from serve_app.serve_config import load_yaml, tier_router_apps
from serve_app.tier_client import TierClient
from tests.unit.fakes import Req, ScriptedHandle, scripted_answer
from tests.unit.test_ops import background_tasks
from tests.unit.test_retraining import CONFIG, retrain_args, toy_store  # noqa: F401  (fixture)

BODY = {"model": "auto", "messages": [{"role": "user", "content": "hard one"}]}
LOGPROBS = {"content": [{"token": t, "logprob": math.log(p), "top_logprobs": []} for t, p in (("a", 0.9), ("b", 0.2))]}
V1_COLUMNS = """id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, prompt_sha256 TEXT NOT NULL,
    prompt TEXT, small_answer TEXT, large_answer TEXT, small_latency_s REAL, large_latency_s REAL,
    agreement REAL NOT NULL, route_score REAL, small_answer_sha256 TEXT, large_answer_sha256 TEXT,
    routed_tier TEXT, category TEXT, confidence REAL"""


def test_a_v1_store_gains_the_confidence_method_and_keeps_its_rows(tmp_path):
    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE pairs ({V1_COLUMNS})")
        db.execute("INSERT INTO pairs (ts, prompt_sha256, agreement, confidence) VALUES (1.0, 'h', 0.5, 0.3)")
        db.execute("PRAGMA user_version = 1")
    store = ShadowStore(path, 100, store_prompts=True)
    store.record(ShadowPair("p", "s", "l", 0.1, 0.2, confidence=0.7, confidence_method="min_prob"))
    store.record(ShadowPair("q", "s", "l", 0.1, 0.2, confidence_method="min_prob"))  # no value: no method
    old, new, none = store.rows()
    assert (old["confidence"], old["confidence_method"]) == (0.3, None)
    assert (new["confidence"], new["confidence_method"]) == (0.7, "min_prob")
    assert (none["confidence"], none["confidence_method"]) == (None, None)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2


def shadow_runner(tmp_path, policy):
    handle = ScriptedHandle(scripted_answer("small says", LOGPROBS))
    store = ShadowStore(tmp_path / "r.sqlite", 100, store_prompts=True)
    tiers = {name: TierClient(name, handle, 5, 5) for name in ("small", "large")}
    return ShadowRunner(tiers, store, 1.0, 4, Req.model_validate, cascade_policy=lambda: policy), store, handle


@pytest.mark.parametrize(
    "policy, method, confidence",
    [
        (CascadePolicy(method="min_prob", threshold=0.0), "min_prob", 0.2),
        (CascadePolicy(method="self_assessment"), None, None),  # would change the answer: none asked
        (None, None, None),
    ],
)
def test_a_small_answer_asked_in_shadow_gets_the_live_methods_confidence(tmp_path, policy, method, confidence):
    runner, store, handle = shadow_runner(tmp_path, policy)

    async def go():
        runner.maybe_start(BODY, "large", "large says", 0.4, 7.5)
        await background_tasks()

    asyncio.run(go())
    (row,) = store.rows()
    assert row["small_answer"] == "small says" and row["confidence_method"] == method
    assert row["confidence"] == (None if confidence is None else pytest.approx(confidence))
    assert bool(handle.requests[0].logprobs) is (method is not None)


def test_an_escalated_answer_is_recorded_with_its_confidence_without_a_call(tmp_path):
    runner, store, handle = shadow_runner(tmp_path, CascadePolicy(method="min_prob", threshold=0.5))
    small, large = ({"choices": [{"message": {"content": c}}]} for c in ("small try", "large answer"))
    result = ChatResult({}, large, tier="large", reason="escalated", route_score=2.0, request_body=BODY)
    result.confidence, result.confidence_method, result.discarded_small = 0.31, "min_prob", small
    assert escalated_pair(result) == ("small try", "large answer")

    class Metrics:
        def __getattr__(self, name):
            return self

        def __call__(self, *args, **kwargs):
            return None

    from serve_app.operations.alarm import LargeShareAlarm

    observer = RequestObserver(Metrics(), LargeShareAlarm(0.3, 60, 1), shadow=runner)

    async def go():
        observer.finish(result, 0.5)
        await background_tasks()

    asyncio.run(go())
    (row,) = store.rows()
    assert (row["small_answer"], row["large_answer"], row["routed_tier"]) == ("small try", "large answer", "large")
    assert (row["confidence"], row["confidence_method"], row["route_score"]) == (0.31, "min_prob", 2.0)
    assert handle.requests == []  # both answers were already paid for
    result.body = None  # a streamed escalation: no whole large answer to pair
    assert escalated_pair(result) is None


def test_the_export_carries_confidence_and_method(tmp_path):
    from serve_app.judging.verdict import pairwise_verdict

    store = ShadowStore(tmp_path / "s.sqlite", 100, store_prompts=True)
    for i, (conf, method) in enumerate([(0.4, "min_prob"), (None, None), (0.9, "mean_prob")]):
        pid, _ = store.record(ShadowPair(f"p{i}", "s", "l", 0.1, 0.2, 1.0, "small", None, conf, method), ts=i)
        store.record_verdict(pid, pairwise_verdict('{"winner": "A"}', '{"winner": "B"}'))
    export_pairs(tmp_path / "s.sqlite", tmp_path / "out.jsonl", test_share=0.0)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["confidence"], r["confidence_method"]) for r in rows] == [
        (0.4, "min_prob"),
        (None, None),
        (0.9, "mean_prob"),
    ]
    assert recorded_confidences(rows, "min_prob") == {rows[0]["id"]: 0.4}


def labelled(small, large, ids=None):
    n = len(small)
    return LabelledSet(
        "t",
        [""] * n,
        [""] * n,
        ["train"] * n,
        np.array(small, float),
        np.array(large, float),
        "small",
        "large",
        ids or [str(i) for i in range(n)],
    )


def test_running_cascade_is_left_out_when_off_or_without_confidences():
    rows = [{"id": "0", "confidence": 0.5, "confidence_method": "min_prob"}]
    data = labelled([0.5, 0.5], [0.5, 0.5])
    off, why = running_cascade(rows, CascadePolicy(mode="route_only"), data, data)
    assert off is None and "route_only" in why
    other, why = running_cascade(rows, CascadePolicy(method="mean_prob"), data, data)
    assert other is None and "mean_prob" in why
    on, why = running_cascade(rows, CascadePolicy(method="min_prob", threshold=0.2), data, data)
    assert why == "" and on.train.tolist()[0] == 0.5 and on.train[1] < -1e8 and on.unscored == 2
    assert on.train_rows.tolist() == on.test_rows.tolist() == [0]
    test_only = labelled([0.5], [0.5], ids=["9"])
    none_to_train, why = running_cascade(rows, CascadePolicy(method="min_prob"), test_only, data)
    assert none_to_train is None and "no training pair carries a min_prob confidence" in why


def test_the_refit_leaves_out_pairs_without_a_confidence_under_the_running_method():
    """Pairs whose small answer loses but that carry no min_prob confidence (a direct `model:`
    request, a shadow call under another method): counted as always escalated they would fill the
    share budget; serving would have scored them, so the refit is the one on the scored pairs alone."""
    rng = np.random.default_rng(1)
    n, m = 300, 100
    confidence = rng.uniform(0, 1, n)
    small = np.r_[np.where(confidence < 0.3, 0.0, 0.5), np.zeros(m)]
    scores = rng.uniform(0, 10, n + m)
    data = labelled(small, 1 - small)
    rows = [{"id": str(i), "confidence": float(c), "confidence_method": "min_prob"} for i, c in enumerate(confidence)]
    rows += [{"id": str(n + i), "confidence": None, "confidence_method": None} for i in range(m // 2)]
    rows += [{"id": str(n + i), "confidence": 0.01, "confidence_method": "mean_prob"} for i in range(m // 2, m)]
    cascade, why = running_cascade(rows, CascadePolicy(method="min_prob", threshold=0.0), data, data)
    assert why == "" and cascade.unscored == 2 * m and cascade.train_rows.tolist() == list(range(n))
    point = refit(scores, cascade, data, t_route=7.0)
    alone = refit(
        scores[:n], RunningCascade("min_prob", 0.0, confidence, confidence, 0), data.subset(np.arange(n)), 7.0
    )
    assert point == alone
    assert point.target_share == pytest.approx(np.mean(scores[:n] > 7.0))
    assert 0.2 < point.cascade_threshold < 0.35 and point.cascade_threshold == round(point.cascade_threshold, 4)
    running = np.where(scores[:n] > 7.0, 1 - small[:n], small[:n])
    assert point.train_quality > np.mean(running) + 0.1


def test_refit_trades_uninformative_routing_for_informative_escalation():
    """The small answer loses exactly when its confidence is low; route scores say nothing. At the
    running share (30% routed, nothing escalated) the refit escalates the low-confidence 30% instead."""
    rng = np.random.default_rng(0)
    n = 400
    confidence = rng.uniform(0, 1, n)
    scores = rng.uniform(0, 10, n)
    small = np.where(confidence < 0.3, 0.0, 0.5)
    data = labelled(small, 1 - small)
    cascade = RunningCascade("min_prob", 0.0, confidence, confidence, 0)
    point = refit(scores, cascade, data, t_route=7.0)
    assert point.target_share == pytest.approx(np.mean(scores > 7.0))
    assert not np.any(scores > point.route_threshold) and 0.28 < point.cascade_threshold < 0.32
    assert point.train_quality > 0.49 > np.mean(np.where(scores > 7, 1 - small, small))


def write_confident_pairs(path, informative: bool, n=240, seed=0):
    """Pairs whose small answer loses when its min_prob confidence is below 0.3 (or, not
    informative, at random); the router (length) says nothing. The newest quarter is the test."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as out:
        for i in range(n):
            confidence = float(rng.uniform(0, 1))
            loses = confidence < 0.3 if informative else bool(rng.uniform() < 0.3)
            small = 0.0 if loses else 0.5
            row = {
                "id": f"shadow-{i}",
                "prompt": f"prompt {i} " + " ".join(["word"] * int(rng.integers(1, 60))),
                "split": "test" if i >= 0.75 * n else "train",
                "scores": {"small": small, "large": 1.0 - small},
                "confidence": confidence,
                "confidence_method": "min_prob",
            }
            out.write(json.dumps(row) + "\n")


CASCADE_CONFIG = CONFIG.replace(
    "      tiers:",
    "      ingress:\n        cascade:\n          method: min_prob\n"
    "          threshold: 0.0  # the shipped value\n      tiers:",
)


@pytest.mark.usefixtures("toy_store")
def test_retrain_promotes_a_cascade_refit_that_wins_and_writes_both_thresholds(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_confident_pairs(pairs, informative=True)
    (tmp_path / "serve.yaml").write_text(CASCADE_CONFIG)
    args = retrain_args(tmp_path, pairs, dry_run=True)
    assert retrain_command.run(args) == 0
    out = capsys.readouterr().out
    dry = json.loads(out.strip().splitlines()[-1])
    assert dry["promoted"] == "cascade" and "would promote the cascade" in out and "written" not in dry
    assert (tmp_path / "serve.yaml").read_text() == CASCADE_CONFIG
    running, *_, refitted = dry["policies"]
    assert running["escalated"] == 0.0 and refitted["policy"] == "refit:cascade" and refitted["escalated"] > 0.2
    assert refitted["large_share"] <= running["large_share"] + 0.05 and refitted["vs_running"] > 0.02
    assert retrain_command.run(retrain_args(tmp_path, pairs)) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["cascade"]["pairs_without_confidence"] == 0
    text = (tmp_path / "serve.yaml").read_text()
    assert "comments survive retraining" in text and "# the shipped value" in text
    config = tier_router_apps(load_yaml(tmp_path / "serve.yaml"))[0].config
    assert (
        config.ingress.cascade.threshold
        == result["written"]["cascade_threshold"]
        == result["cascade"]["cascade_threshold"]
    )
    assert 0.25 < config.ingress.cascade.threshold < 0.35 and config.router.policy.strategy.name == "length"
    assert config.router.policy.threshold == result["written"]["threshold"] == result["cascade"]["route_threshold"]


@pytest.mark.usefixtures("toy_store")
def test_retrain_keeps_the_cascade_when_confidence_says_nothing(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_confident_pairs(pairs, informative=False)
    (tmp_path / "serve.yaml").write_text(CASCADE_CONFIG)
    assert retrain_command.run(retrain_args(tmp_path, pairs)) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["cascade"]["refitted"] and not result["cascade"]["decision"]["promote"]
    assert result["promoted"] is None and "KEEP the running thresholds" in out
    assert (tmp_path / "serve.yaml").read_text() == CASCADE_CONFIG


@pytest.mark.usefixtures("toy_store")
def test_retrain_counts_and_leaves_out_pairs_without_a_confidence(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    write_confident_pairs(pairs, informative=True)
    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    for row in rows[::6]:
        row["confidence"] = row["confidence_method"] = None
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "serve.yaml").write_text(CASCADE_CONFIG)
    assert retrain_command.run(retrain_args(tmp_path, pairs, dry_run=True)) == 0
    out = capsys.readouterr().out
    cascade = json.loads(out.strip().splitlines()[-1])["cascade"]
    held_out_scored = sum(r["split"] == "test" and r["confidence"] is not None for r in rows)
    assert cascade["refitted"] and cascade["pairs_without_confidence"] == len(rows[::6]) == 40
    assert f"compared on the {held_out_scored} held-out pairs with a min_prob confidence" in cascade["note"]
    assert "40 pairs without a min_prob confidence left out" in out
