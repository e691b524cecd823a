"""Shadow pairs with verdicts: store migration, verdict storage, judged export with time windows,
shadowing in both directions, and the observer handing pairs to the judge."""

import asyncio
import json
import sqlite3

from serve_app.cascade.runner import Attempt
from serve_app.chat_flow import ChatResult
from serve_app.evaluation.dataset import load_labelled
from serve_app.judging.verdict import pairwise_verdict
from serve_app.operations.observer import shadowable_answer
from serve_app.operations.shadow import SCHEMA_VERSION, ShadowPair, ShadowStore
from serve_app.operations.shadow_export import export_pairs
from serve_app.operations.shadow_runner import ShadowRunner, request_category
from serve_app.tier_client import TierClient
from tests.unit.fakes import Req, ScriptedHandle, scripted_answer
from tests.unit.test_ops import background_tasks

V0_SCHEMA = """CREATE TABLE pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, prompt_sha256 TEXT NOT NULL,
    prompt TEXT, small_answer TEXT NOT NULL, large_answer TEXT NOT NULL,
    small_latency_s REAL, large_latency_s REAL, agreement REAL NOT NULL, route_score REAL)"""


def w(x):
    return json.dumps({"winner": x})


def test_a_store_from_the_previous_version_opens_and_migrates(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(V0_SCHEMA)
        db.execute(
            "INSERT INTO pairs (ts, prompt_sha256, prompt, small_answer, large_answer, agreement, route_score)"
            " VALUES (1.0, 'abc', 'old prompt', 's', 'l', 0.5, 3.0)"
        )
    store = ShadowStore(path, 100, store_prompts=False)
    (old,) = store.rows()
    assert (old["id"], old["prompt"], old["small_answer"], old["route_score"]) == (1, "old prompt", "s", 3.0)
    assert old["outcome"] is None and old["category"] is None
    new_id, _ = store.record(ShadowPair("new", "a", "b", 0.1, 0.2))
    assert new_id == 2 and store.rows()[1]["small_answer"] is None  # hashed: no opt-in
    store.record_verdict(1, pairwise_verdict(w("B"), w("A")), judge="large")
    assert store.rows()[0]["outcome"] == "large" and store.rows()[0]["judge"] == "large"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    ShadowStore(path, 100, store_prompts=False)  # opening again is a no-op
    assert len(store.rows()) == 2


def test_rotation_drops_old_verdicts_with_their_pairs(tmp_path):
    store = ShadowStore(tmp_path / "s.sqlite", 2, store_prompts=True)
    for i in range(3):
        pid, _ = store.record(ShadowPair(f"p{i}", "a", "b", 0.1, 0.2))
        store.record_verdict(pid, pairwise_verdict(w("A"), w("B")))
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert [r[0] for r in db.execute("SELECT pair_id FROM verdicts ORDER BY pair_id")] == [2, 3]


def judged_store(tmp_path):
    store = ShadowStore(tmp_path / "j.sqlite", 1000, store_prompts=True)
    for i in range(10):
        pid, _ = store.record(
            ShadowPair(f"q{i}", "small", "large", 0.1, 0.2, float(i), "small", "billing"), ts=1000.0 + i
        )
        if i == 3:
            continue  # never judged
        texts = (w("B"), w("A")) if i % 2 else (w("tie"), "not json" if i == 4 else w("tie"))
        store.record_verdict(pid, pairwise_verdict(*texts))
    return store


def test_export_labels_with_the_verdict_and_marks_the_newest_slice_as_test(tmp_path):
    judged_store(tmp_path)
    out = tmp_path / "pairs.jsonl"
    counts = export_pairs(tmp_path / "j.sqlite", out, test_since=1007.0)
    assert (counts.written, counts.unjudged, counts.hashed, counts.test) == (8, 2, 0, 3)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["split"] for r in rows] == ["train"] * 5 + ["test"] * 3
    assert rows[0]["scores"] == {"small": 0.5, "large": 0.5} and rows[1]["scores"] == {"small": 0.0, "large": 1.0}
    assert rows[0]["category"] == "billing" and rows[0]["label"] == "pairwise"
    data = load_labelled(out, "small", "large")
    assert len(data) == 8 and data.strong.sum() > data.weak.sum()


def test_export_time_window(tmp_path):
    judged_store(tmp_path)
    counts = export_pairs(tmp_path / "j.sqlite", tmp_path / "w.jsonl", since=1002.0, until=1006.0, test_share=0.5)
    rows = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]
    assert [r["ts"] for r in rows] == [1002.0, 1005.0] and counts.unjudged == 2  # q3 unjudged, q4 unparsable
    assert [r["split"] for r in rows] == ["train", "test"]


def test_a_large_answer_is_shadowed_on_the_small_tier_and_handed_on(tmp_path):
    handle = ScriptedHandle(scripted_answer("small says"))
    store = ShadowStore(tmp_path / "r.sqlite", 100, store_prompts=True)
    seen = []
    tiers = {name: TierClient(name, handle, 5, 5) for name in ("small", "large")}
    runner = ShadowRunner(tiers, store, 1.0, 2, Req.model_validate, on_pair=lambda pid, pair: seen.append((pid, pair)))
    body = {"model": "auto", "messages": [{"role": "user", "content": "hard one"}], "metadata": {"category": "math"}}

    async def go():
        runner.maybe_start(body, "large", "large says", 0.4, 7.5)
        await background_tasks()

    asyncio.run(go())
    assert handle.requests[0].model == "small"
    (row,) = store.rows()
    assert (row["small_answer"], row["large_answer"], row["routed_tier"], row["category"]) == (
        "small says",
        "large says",
        "large",
        "math",
    )
    assert row["large_latency_s"] == 0.4 and row["small_latency_s"] < 0.4
    assert seen[0][0] == row["id"] and seen[0][1].large_answer == "large says"


def test_which_answers_can_be_shadowed():
    answer = {"choices": [{"message": {"content": "x"}}]}
    assert shadowable_answer(ChatResult({}, answer, tier="small", small_answer=answer)) is answer
    assert shadowable_answer(ChatResult({}, answer, tier="large", reason="routed")) is answer
    assert (
        shadowable_answer(ChatResult({}, answer, tier="large", reason="escalated", attempts=[Attempt("small")])) is None
    )
    assert shadowable_answer(ChatResult({}, None, tier="large", reason="routed")) is None  # a stream
    assert request_category({"metadata": {"category": "x" * 100}}) == "x" * 64
    assert request_category({"metadata": "nope"}) is None and request_category({}) is None


def test_judge_summary_counts_unparsable_verdicts_and_order_agreement(tmp_path):
    from serve_app.retraining.drift_command import judge_summary

    rows = judged_store(tmp_path).rows()
    summary = judge_summary(rows)
    # 10 pairs, 9 judged, q4 unparsable; of the 8 parsed pairwise verdicts all orders agreed
    assert summary == {
        "pairs": 10,
        "judged": 9,
        "unparsable": 1,
        "pairwise_orders_agreed": 8,
        "pairwise_order_agreement": 1.0,
    }


def test_the_default_judge_is_the_large_tier_and_feeds_store_and_metrics(tmp_path):
    from serve_app.graph.metrics import IngressMetrics
    from serve_app.judging.config import JudgeConfig
    from serve_app.operations.judge_wiring import build_judge, judge_recorded_pairs
    from tests.unit.test_ops import FakeMetricsModule

    handle = ScriptedHandle(scripted_answer(w("tie")))
    store = ShadowStore(tmp_path / "j.sqlite", 100, store_prompts=False)
    metrics = IngressMetrics(FakeMetricsModule)
    assert build_judge(JudgeConfig(), store, None, Req.model_validate, metrics) is None  # off by default
    judge = build_judge(
        JudgeConfig(sample_rate=1.0), store, TierClient("large", handle, 5, 5), Req.model_validate, metrics
    )
    pair = ShadowPair("q", "s", "l", 0.1, 0.2, route_score=4.5)
    pair_id, _ = store.record(pair)

    async def go():
        judge_recorded_pairs(judge)(pair_id, pair)
        await background_tasks()

    asyncio.run(go())
    assert [r.model for r in handle.requests] == ["large", "large"]  # both orders, on the large tier
    assert handle.requests[0].response_format["type"] == "json_schema"
    (row,) = store.rows()
    assert (row["outcome"], row["judge"], row["small_answer"]) == ("tie", "large", None)  # text never stored
    assert metrics.verdicts.calls == [(1.0, {"outcome": "tie", "score_bucket": "4-6"})]
    assert [t["outcome"] for _, t in metrics.judge_pairs.calls] == ["started", "judged"]
    assert metrics.judge_tokens.calls.count((10, {"kind": "prompt"})) == 2  # per judge call
