"""Cascade metrics (curve, APGR, AUROC), records from cached answers, the answer cache and the
collector's protocol plumbing (an in-process fake OpenAI server; real numbers come from a real run)."""

import asyncio
import json

import numpy as np
import pytest

from serve_app.evaluation.answer_cache import AnswerCache, cache_key
from serve_app.evaluation.cascade_data import CascadeItem, stratified_sample
from serve_app.evaluation.cascade_eval import add_cross_fitted, build_record, evaluate_records
from serve_app.evaluation.cascade_metrics import (
    auroc,
    cascade_curve,
    evaluate_signal,
    threshold_for_share,
)
from serve_app.evaluation.graders import get_grader
from serve_app.evaluation.metrics import apgr
from serve_app.evaluation.small_answers import CallSettings, cached_answers, collect, plan, request_body


def test_auroc_known_values_and_ties():
    assert auroc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0]) == 0.5
    assert auroc([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == pytest.approx(0.875)  # one tie counts half
    assert auroc([None, 0.2], [0, 1]) == 1.0  # missing = least confident
    assert np.isnan(auroc([0.1, 0.2], [1, 1]))


def test_cascade_curve_escalates_least_confident_first():
    small = np.array([1, 0, 1, 0], dtype=float)
    large = np.array([1, 1, 1, 1], dtype=float)
    perfect = cascade_curve([0.9, 0.1, 0.8, 0.2], small, large)
    assert perfect.quality.tolist() == [0.5, 0.75, 1.0, 1.0, 1.0]
    assert apgr(perfect) == pytest.approx(0.75)  # PGR 0, .5, 1, 1, 1 by the trapezoid rule
    backwards = cascade_curve([0.1, 0.9, 0.2, 0.8], small, large)
    assert backwards.quality.tolist() == [0.5, 0.5, 0.5, 0.75, 1.0]
    assert apgr(cascade_curve([0.5] * 4, small, large)) == pytest.approx(0.5)  # all ties = random
    assert cascade_curve([None, 0.9, 0.8, 0.7], np.array([0, 1, 1, 1.0]), large).quality[1] == 1.0


def test_evaluate_signal_reports_quality_and_intervals():
    rng = np.random.default_rng(1)
    small = (rng.random(300) < 0.3).astype(float)
    large = np.ones(300)
    conf = small * 0.3 + rng.random(300) * 0.7
    result = evaluate_signal("x", list(conf), small, large, boots=50)
    assert result.auroc > 0.6 and result.auroc_ci[0] < result.auroc < result.auroc_ci[1]
    assert result.quality_at[0.5] > result.quality_at[0.1]
    assert result.missing == 0


def test_threshold_for_share_escalates_at_most_that_share():
    conf = [0.1, 0.2, 0.2, 0.3, 0.9]
    for share in (0.0, 0.2, 0.4, 0.6, 1.0):
        t = threshold_for_share(conf, share)
        assert np.mean(np.array(conf) < t) <= share + 1e-9
    assert threshold_for_share(conf, 0.2) == 0.2  # 0.1 escalates
    assert np.mean(np.array(conf) < threshold_for_share(conf, 1.0)) == 1.0


def test_stratified_sample_is_proportional_seeded_and_covers_categories():
    cats = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    picked = stratified_sample(cats, 20, seed=3)
    counts = {c: sum(cats[i] == c for i in picked) for c in "abc"}
    assert counts == {"a": 12, "b": 6, "c": 2} and len(set(picked)) == 20
    assert stratified_sample(cats, 20, seed=3).tolist() == picked.tolist()
    assert stratified_sample(cats, 20, seed=4).tolist() != picked.tolist()
    assert len(stratified_sample(["a"] * 50 + ["b"], 10, 0)) == 10  # every category, total kept
    assert stratified_sample(cats, 500, 0).tolist() == list(range(100))


PROMPT = "Q?\nA. one\nB. two\nC. three\nD. four\nAnswer:"


def _lp(p):
    return {"content": [{"token": "B", "logprob": float(np.log(p)), "top_logprobs": []}]}


def _records(n=60, seed=0):
    rng = np.random.default_rng(seed)
    grader = get_grader("mc_letter")
    records = []
    for i in range(n):
        right = rng.random() < 0.4
        p = 0.3 + 0.5 * right * rng.random() + 0.2 * rng.random()
        item = CascadeItem(f"q{i}", PROMPT, "c", "B" if right else "C", {"big": 1.0})
        calls = {
            "answer": {"content": "B. two", "logprobs": _lp(p)},
            "sample": {"content": "B. two" if right else "A. one"},
            "self_assessment": {"content": json.dumps({"confidence": 0.5, "content": "two"}), "finish_reason": "stop"},
        }
        records.append(build_record(item, calls, grader))
    return records


def test_records_grade_each_served_answer_and_evaluate():
    records = _records()
    assert build_record(records[0].item, {}, get_grader("mc_letter")) is None
    assert all(r.self_assessment_correct == r.correct for r in records)  # "two" is option B
    add_cross_fitted(records)
    evaluation = evaluate_records(records, ["big"])
    names = [r.signal for r in evaluation.results["big"]]
    assert names[:2] == ["logprobs", "mean_prob"] and names[-3:] == ["calibrated", "agreement", "self_assessment"]
    by = {r.signal: r for r in evaluation.results["big"]}
    assert by["agreement"].auroc == 1.0  # the samples agree exactly when the answer is right
    assert by["self_assessment"].auroc == 0.5  # one constant confidence
    assert by["first_prob"].auroc > 0.7
    assert evaluation.rows["agreement"] == 60


def test_cache_keys_and_resume(tmp_path):
    settings = CallSettings(url="http://x/v1", kinds=("answer", "sample"))
    body = request_body("answer", "hi", settings)
    assert body["temperature"] == 0.0 and body["logprobs"] is True
    assert cache_key("http://x/v1/", "small", "answer", body) == cache_key("http://x/v1", "small", "answer", body)
    assert cache_key("http://x/v1", "small", "sample", body) != cache_key("http://x/v1", "small", "answer", body)
    cache = AnswerCache(tmp_path / "c.jsonl")
    cache.put(cache_key(settings.url, settings.model, "answer", body), "answer", "i1", {"content": "A"})
    with open(tmp_path / "c.jsonl", "a") as handle:
        handle.write('{"key": "cut off')  # an interrupted write
    reloaded = AnswerCache(tmp_path / "c.jsonl")
    assert len(reloaded) == 1
    todo, cached = plan([("i1", "hi")], settings, reloaded)
    assert cached == 1 and [j.kind for j in todo] == ["sample"]
    sa = request_body("self_assessment", "hi", CallSettings())
    assert sa["messages"][0]["role"] == "system" and sa["response_format"]["type"] == "json_schema"
    with pytest.raises(ValueError):
        request_body("nope", "hi", settings)


def test_collect_talks_openai_and_caches_only_successes(tmp_path):
    httpx = pytest.importorskip("httpx")
    seen = []

    def handler(request):
        body = json.loads(request.content)
        seen.append(body)
        if body["messages"][-1]["content"] == "fail":
            return httpx.Response(503, json={"error": {"message": "down"}})
        return httpx.Response(
            200,
            json={
                "choices": [{"message": {"content": "A"}, "finish_reason": "stop", "logprobs": None}],
                "usage": {"completion_tokens": 1},
            },
        )

    settings = CallSettings(url="http://fake/v1", model="m", kinds=("answer",), concurrency=2)
    cache = AnswerCache(tmp_path / "c.jsonl")
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    items = [("a", "hello"), ("b", "fail")]
    errors = asyncio.run(collect(items, settings, cache, client=client))
    assert len(errors) == 1 and "HTTP 503" in errors[0]
    assert all(b["model"] == "m" and b["max_tokens"] == 32 for b in seen)
    answers = cached_answers(items, settings, cache)
    assert answers == {
        "a": {"answer": {"content": "A", "finish_reason": "stop", "logprobs": None, "usage": {"completion_tokens": 1}}}
    }


def test_read_prompts_keeps_unicode_line_separators_inside_json(tmp_path):
    from serve_app.evaluation.dataset import read_prompts

    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "a\u2028b"}, ensure_ascii=False) + "\n" + json.dumps({"prompt": "c"}) + "\n")
    assert read_prompts(path) == ["a\u2028b", "c"]


def test_cascade_section_states_the_numbers_and_their_limits(tmp_path):
    from pathlib import Path

    from serve_app.evaluation.cascade_benchmarks import cascade_section
    from serve_app.evaluation.cascade_report import markdown

    records = _records()
    add_cross_fitted(records)
    evaluation = evaluate_records(records, ["big"])
    md = markdown(evaluation, {"random": np.zeros(len(records))}, "header")
    assert "| router: `random` |" in md and "| cascade: `self_assessment` |" in md
    text = cascade_section(evaluation, md, [Path("bench/results/cascade/x.png")], Path.cwd())
    assert "![x](bench/results/cascade/x.png)" in text
    assert f"{100 * evaluation.small_quality:.1f}% of these four-option questions right" in text
    assert "not distinguishable from chance" in text and "Llama-3.1-8B was not measured" in text
