"""The shadow-pair judge: verdict parsing, order-swap aggregation, prompts, budget and the runner."""

import asyncio
import json

import httpx
import pytest

from serve_app.judging.config import JudgeConfig, JudgeEndpoint
from serve_app.judging.endpoint import EndpointJudge
from serve_app.judging.prompts import judge_bodies
from serve_app.judging.runner import HourlyBudget, JudgePair, JudgeRunner
from serve_app.judging.verdict import (
    GRADED_SCHEMA,
    PAIRWISE_SCHEMA,
    graded_verdict,
    pairwise_verdict,
    parse_rating,
    parse_winner,
)
from tests.unit.test_ops import background_tasks


def w(value):
    return json.dumps({"winner": value})


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"winner": "A"}', "A"),
        ('{"winner":"B"}', "B"),
        ('{"winner": "tie"}', "tie"),
        ('{"winner": "TIE"}', "tie"),
        ('```json\n{"winner": "B"}\n```', "B"),
        (' {"winner": " A "} ', "A"),
        ('{"winner": "C"}', None),
        ('{"winner": "a"}', None),
        ("The answer is [[A]]", None),
        ('{"winner": 1}', None),
        ('["A"]', None),
        ("", None),
        (None, None),
        ('{"winner": "A"', None),
        ('{"verdict": "A"}', None),
    ],
)
def test_winner_parsing_never_guesses(text, expected):
    assert parse_winner(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"rating": 7}', 7),
        ('{"rating": 10}', 10),
        ('{"rating": 1.0}', 1),
        ('{"rating": "8"}', 8),
        ('{"rating": 0}', None),
        ('{"rating": 11}', None),
        ('{"rating": 7.5}', None),
        ('{"rating": true}', None),
        ('{"rating": null}', None),
        ("Rating: [[7]]", None),
        ('{"score": 7}', None),
    ],
)
def test_rating_parsing_never_rounds_or_clips(text, expected):
    assert parse_rating(text) == expected


def test_both_orders_agreeing_keep_the_outcome():
    v = pairwise_verdict(w("B"), w("A"))  # large better in both orders
    assert (v.outcome, v.small_score, v.large_score, v.consistent) == ("large", 0.0, 1.0, True)
    v = pairwise_verdict(w("A"), w("B"))  # small better in both orders
    assert (v.outcome, v.small_score, v.large_score, v.consistent) == ("small", 1.0, 0.0, True)
    v = pairwise_verdict(w("tie"), w("tie"))
    assert (v.outcome, v.small_score, v.consistent) == ("tie", 0.5, True)


def test_position_bias_cancels_to_a_tie():
    v = pairwise_verdict(w("A"), w("A"))  # a judge that always picks the first answer
    assert (v.outcome, v.small_score, v.large_score, v.consistent) == ("tie", 0.5, 0.5, False)
    v = pairwise_verdict(w("A"), w("tie"))  # small wins once, ties once: inconsistent, a tie
    assert (v.outcome, v.consistent) == ("tie", False)
    assert (v.first, v.second) == ("A", "tie")


def test_an_unparsable_order_leaves_the_pair_unlabelled():
    v = pairwise_verdict(w("B"), "I think A is better")
    assert v.outcome is None and v.small_score is None and not v.parsed
    assert (v.first, v.second) == ("B", None)


def test_graded_verdict_scores_each_answer():
    v = graded_verdict('{"rating": 4}', '{"rating": 8}')
    assert (v.outcome, v.small_score, v.large_score, v.consistent) == ("large", 0.4, 0.8, None)
    assert graded_verdict('{"rating": 6}', '{"rating": 6}').outcome == "tie"
    assert graded_verdict('{"rating": 9}', '{"rating": 6}').outcome == "small"
    assert not graded_verdict('{"rating": 9}', "nine").parsed


def test_pairwise_bodies_swap_the_answers_and_ask_for_the_schema():
    first, second = judge_bodies("pairwise", "Q?", "small says", "large says", 2000, 32)
    a1 = first["messages"][1]["content"]
    a2 = second["messages"][1]["content"]
    assert a1.index("small says") < a1.index("large says") and a2.index("large says") < a2.index("small says")
    assert first["response_format"]["json_schema"]["schema"] == PAIRWISE_SCHEMA
    assert first["temperature"] == 0.0 and first["max_tokens"] == 32 and first["stream"] is False
    g1, g2 = judge_bodies("graded", "Q?", "s" * 50, "large", 20, 16)
    assert "large" not in g1["messages"][1]["content"] and "s" * 20 + " [...]" in g1["messages"][1]["content"]
    assert g2["response_format"]["json_schema"]["schema"] == GRADED_SCHEMA


def test_hourly_budget_rolls():
    now = [0.0]
    budget = HourlyBudget(4, clock=lambda: now[0])
    assert budget.try_spend(2) and budget.try_spend(2) and not budget.try_spend(2)
    now[0] = 3599.0
    assert not budget.try_spend(1)
    now[0] = 3600.5
    assert budget.try_spend(2) and budget.used() == 2


class FakeJudge:
    """Answers pairwise bodies: prefers whichever answer contains `better`."""

    def __init__(self, better="large says", gate=None, fail=False):
        self.better, self.gate, self.fail, self.calls = better, gate, fail, []

    async def __call__(self, body):
        self.calls.append(body)
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("judge down")
        text = body["messages"][1]["content"]
        a = text.split("[The Start of Assistant B's Answer]")[0]
        winner = "A" if self.better in a else "B"
        return {
            "choices": [{"message": {"content": json.dumps({"winner": winner})}}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 5},
        }


def run_judge(fake, config, pairs, rng=lambda: 0.0):
    events, recorded, usage = [], [], []

    async def main():
        runner = JudgeRunner(
            fake, lambda pid, v: recorded.append((pid, v)), config, events.append, on_usage=usage.append, rng=rng
        )
        started = [runner.maybe_judge(p) for p in pairs]
        await background_tasks()
        return started, runner

    started, runner = asyncio.run(main())
    return started, events, recorded, usage, runner


def pair(i=1):
    return JudgePair(i, "Q?", "small says", "large says", 3.0)


def test_runner_judges_both_orders_and_records_the_verdict():
    fake = FakeJudge()
    started, events, recorded, usage, runner = run_judge(fake, JudgeConfig(sample_rate=1.0), [pair()])
    assert started == [True] and events == ["started", "judged"] and len(fake.calls) == 2
    ((pid, verdict),) = recorded
    assert pid == 1 and verdict.outcome == "large" and verdict.consistent
    assert len(usage) == 2 and runner.in_flight == 0


def test_runner_bounds_in_flight_budget_and_sampling():
    cfg = JudgeConfig(sample_rate=1.0, max_in_flight=1, calls_per_hour=4)

    async def main():
        fake = FakeJudge(gate=asyncio.Event())
        events = []
        runner = JudgeRunner(fake, lambda pid, v: None, cfg, events.append, rng=lambda: 0.0)
        first = runner.maybe_judge(pair(1))
        second = runner.maybe_judge(pair(2))  # one pair in flight already
        fake.gate.set()
        await background_tasks()
        third = runner.maybe_judge(pair(3))  # 4 calls per hour: the budget is spent
        await background_tasks()
        fourth = runner.maybe_judge(pair(4))
        return (first, second, third, fourth), events

    started, events = asyncio.run(main())
    assert started == (True, False, True, False)
    assert events == ["started", "dropped", "judged", "started", "judged", "over_budget"]
    _, events, recorded, _, _ = run_judge(FakeJudge(), JudgeConfig(sample_rate=0.5), [pair()], rng=lambda: 0.7)
    assert events == [] and recorded == []


def test_runner_failures_and_unparsable_verdicts_are_counted_not_raised():
    _, events, recorded, _, runner = run_judge(FakeJudge(fail=True), JudgeConfig(sample_rate=1.0), [pair()])
    assert events == ["started", "failed"] and recorded == [] and runner.in_flight == 0

    async def prose(body):
        return {"choices": [{"message": {"content": "Assistant B is better."}}]}

    _, events, recorded, _, _ = run_judge(prose, JudgeConfig(sample_rate=1.0), [pair()])
    assert events == ["started", "unparsable"] and recorded[0][1].parsed is False


def test_endpoint_judge_sends_model_and_key_from_the_environment(monkeypatch):
    seen = {}

    def handler(request):
        seen["url"], seen["auth"] = str(request.url), request.headers.get("authorization")
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json={"choices": [{"message": {"content": '{"winner": "tie"}'}}]})

    cfg = JudgeEndpoint(url="http://judge.local/v1/", model="judge-70b", api_key_env="TEST_JUDGE_KEY")
    with pytest.raises(ValueError, match="TEST_JUDGE_KEY"):
        EndpointJudge(cfg)
    monkeypatch.setenv("TEST_JUDGE_KEY", "sk-test")
    judge = EndpointJudge(cfg, transport=httpx.MockTransport(handler))
    body = judge_bodies("pairwise", "Q", "s", "l", 100, 16)[0]
    answer = asyncio.run(judge.complete(body))
    assert answer["choices"][0]["message"]["content"] == '{"winner": "tie"}'
    assert seen["url"] == "http://judge.local/v1/chat/completions" and seen["auth"] == "Bearer sk-test"
    assert seen["body"]["model"] == "judge-70b" and seen["body"]["response_format"]["type"] == "json_schema"


def test_the_echo_engine_judges_by_its_hooks_in_either_order():
    from serve_app.graph.echo_judge import judge_answer
    from serve_app.judging.verdict import GRADED_SCHEMA, PAIRWISE_SCHEMA

    def verdict(question, mode="pairwise"):
        small, large = f"[small] {question}", f"[large] {question}"
        bodies = judge_bodies(mode, question, small, large, 2000, 32)
        schema = PAIRWISE_SCHEMA if mode == "pairwise" else GRADED_SCHEMA
        texts = [judge_answer(b["messages"][1]["content"], schema) for b in bodies]
        return pairwise_verdict(*texts) if mode == "pairwise" else graded_verdict(*texts)

    assert verdict("q __echo_prefer_large__").outcome == "large"
    assert verdict("q __echo_prefer_small__").outcome == "small"
    biased = verdict("q __echo_prefer_first__")
    assert (biased.outcome, biased.consistent) == ("tie", False)
    graded = verdict("q __echo_rate_small_3__ __echo_rate_large_8__", "graded")
    assert (graded.small_score, graded.large_score) == (0.3, 0.8)
    assert judge_answer("anything", {"properties": {"content": {}}}) is None
