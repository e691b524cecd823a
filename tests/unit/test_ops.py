"""Alarm, shadow A/B (store, rotation, export, background runner) and the request observer."""

import asyncio
import json

import pytest

from serve_app.cascade.runner import Attempt
from serve_app.chat_flow import ChatResult
from serve_app.costs import TierCosts
from serve_app.evaluation.dataset import load_labelled
from serve_app.graph.metrics import IngressMetrics
from serve_app.operations.alarm import LargeShareAlarm, RollingShare
from serve_app.operations.observer import RequestObserver
from serve_app.operations.shadow import ShadowPair, ShadowStore, agreement
from serve_app.operations.shadow_export import export_pairs
from serve_app.operations.shadow_runner import ShadowRunner
from serve_app.tier_client import TierClient
from tests.unit.fakes import Req, ScriptedHandle, scripted_answer


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class FakeMetric:
    def __init__(self, name, **kw):
        self.name, self.calls = name, []

    def inc(self, value=1.0, tags=None):
        assert value > 0, "Ray counters reject non-positive increments"
        self.calls.append((value, tags))

    def observe(self, value, tags=None):
        self.calls.append((value, tags))

    def set(self, value, tags=None):
        self.calls.append((value, tags))


class FakeMetricsModule:
    Counter = Histogram = Gauge = FakeMetric


def test_rolling_share_forgets_old_events():
    clock = Clock()
    share = RollingShare(10, clock)
    share.observe(True)
    clock.t = 5
    share.observe(False)
    assert share.share == 0.5 and share.count == 2
    clock.t = 12
    assert share.share == 0.0 and share.count == 1


def test_alarm_fires_once_per_crossing():
    clock = Clock()
    alarm = LargeShareAlarm(ceiling=0.3, window_s=60, min_requests=10, clock=clock)
    events = [alarm.observe(i % 2 == 0) for i in range(20)]  # 50% large
    assert events.count("raised") == 1 and "cleared" not in events
    assert events.index("raised") == 9  # not before min_requests
    events = [alarm.observe(False) for _ in range(40)]
    assert events.count("cleared") == 1 and alarm.raised is False


def test_alarm_stays_quiet_on_normal_traffic():
    alarm = LargeShareAlarm(ceiling=0.3, window_s=60, min_requests=10, clock=Clock())
    assert [alarm.observe(i % 5 == 0) for i in range(100)].count("raised") == 0  # 20% large


def test_agreement_is_token_f1():
    assert agreement("The cat sat", "the cat sat") == 1.0
    assert agreement("a b", "c d") == 0.0
    assert agreement("a b c d", "a b") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert agreement("", "") == 1.0 and agreement("x", "") == 0.0


def test_store_hashes_prompts_unless_opted_in_and_rotates(tmp_path):
    hashed = ShadowStore(tmp_path / "h.sqlite", max_rows=3, store_prompts=False)
    for i in range(5):
        hashed.record(ShadowPair(f"prompt {i}", "a b", "a c", 0.1, 0.2, 1.5))
    rows = hashed.rows()
    assert len(rows) == 3 and rows[0]["prompt"] is None and len(rows[0]["prompt_sha256"]) == 64
    assert rows[0]["small_answer"] is None and rows[0]["large_answer"] is None  # answers are text too
    assert len(rows[0]["small_answer_sha256"]) == 64 and rows[0]["agreement"] == 0.5
    assert [r["id"] for r in rows] == [3, 4, 5]
    counts = export_pairs(tmp_path / "h.sqlite", tmp_path / "out.jsonl", label="agreement")
    assert (counts.written, counts.hashed) == (0, 3)


def test_export_round_trips_into_the_eval_format(tmp_path):
    store = ShadowStore(tmp_path / "s.sqlite", max_rows=100, store_prompts=True)
    for i in range(10):
        store.record(ShadowPair(f"question {i}?", "paris is the capital", "paris" if i % 2 else "lyon", 0.1, 0.3))
    counts = export_pairs(tmp_path / "s.sqlite", tmp_path / "pairs.jsonl", label="agreement")
    assert (counts.written, counts.hashed, counts.test) == (10, 0, 2)
    labelled = load_labelled(tmp_path / "pairs.jsonl", weak="small", strong="large")
    assert len(labelled.prompts) == 10 and set(labelled.splits) <= {"train", "test"}
    assert labelled.strong.tolist() == [1.0] * 10
    first = json.loads((tmp_path / "pairs.jsonl").read_text().splitlines()[0])
    assert first["scores"]["large"] == 1.0 and 0 <= first["scores"]["small"] <= 1 and first["prompt"]


def make_runner(tmp_path, sample_rate=1.0, max_in_flight=1, delay_s=0.0, raises=None):
    handle = ScriptedHandle(scripted_answer("paris"), delay_s=delay_s, raises=raises)
    store = ShadowStore(tmp_path / "r.sqlite", 100, store_prompts=True)
    events = []
    tiers = {name: TierClient(name, handle, 5, 5) for name in ("small", "large")}
    runner = ShadowRunner(tiers, store, sample_rate, max_in_flight, Req.model_validate, on_event=events.append)
    return runner, store, events, handle


async def background_tasks() -> None:
    """Wait for every other task of the running loop: the shadow calls started in the background,
    and whatever they start in turn (the judge)."""
    while others := asyncio.all_tasks() - {asyncio.current_task()}:
        await asyncio.gather(*others, return_exceptions=True)


BODY = {"model": "auto", "messages": [{"role": "user", "content": "capital of France?"}]}


def test_shadow_calls_are_bounded_and_recorded(tmp_path):
    runner, store, events, handle = make_runner(tmp_path, max_in_flight=1, delay_s=0.05)

    async def go():
        started = [runner.maybe_start(BODY, "small", "paris", 0.1, 2.0) for _ in range(3)]
        assert runner.in_flight == 1
        await background_tasks()
        return started

    assert asyncio.run(go()) == [True, False, False]
    assert events == ["started", "dropped", "dropped", "recorded"]
    (row,) = store.rows()
    assert row["prompt"] == "capital of France?" and row["agreement"] == 1.0 and row["route_score"] == 2.0
    assert handle.requests[0].stream is False and handle.requests[0].model == "large"


def test_shadow_failures_are_contained(tmp_path):
    runner, store, events, _ = make_runner(tmp_path, raises=RuntimeError("boom"))

    async def go():
        runner.maybe_start(BODY, "small", "paris", 0.1, None)
        await background_tasks()

    asyncio.run(go())
    assert events == ["started", "failed"] and store.rows() == [] and runner.in_flight == 0


def test_shadow_sampling_rate(tmp_path):
    runner, _, _, _ = make_runner(tmp_path, sample_rate=0.0)

    async def go():
        return runner.maybe_start(BODY, "small", "paris", 0.1, None)

    assert asyncio.run(go()) is False


def test_observer_records_tokens_cost_and_alarm():
    metrics = IngressMetrics(FakeMetricsModule)
    costs = TierCosts.model_validate(
        {"small": {"usd_per_gpu_hour": 1, "requests_per_s": 1}, "large": {"usd_per_gpu_hour": 10, "requests_per_s": 1}}
    )
    alarm = LargeShareAlarm(0.3, 60, 1)
    observer = RequestObserver(metrics, alarm, costs)
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    result = ChatResult(
        {},
        tier="large",
        reason="escalated",
        cascade_judged=True,
        attempts=[Attempt("small", usage, 0.2, True), Attempt("large", usage)],
    )
    observer.finish(result, 0.5)
    assert metrics.requests.calls == [(1.0, {"tier": "large", "reason": "escalated"})]
    assert (10, {"tier": "small", "kind": "prompt"}) in metrics.tokens.calls
    assert [t["tier"] for _, t in metrics.cost.calls] == ["small", "large"]
    assert metrics.savings.calls == []  # small + large costs more than large alone
    assert metrics.alarm.calls[-1][0] == 1.0 and metrics.escalation_rate.calls[-1][0] == 1.0
    observer.finish(ChatResult({}, tier="small", reason="routed", attempts=[Attempt("small", usage)]), 0.1)
    assert metrics.savings.calls[-1][0] == pytest.approx((10 - 1) / 3600)


def test_shadow_never_delays_the_request_path(tmp_path):
    import time

    runner, store, events, _ = make_runner(tmp_path, delay_s=1.0)  # a slow large tier
    observer = RequestObserver(IngressMetrics(FakeMetricsModule), LargeShareAlarm(0.3, 60, 1), None, runner)
    answer = {"choices": [{"message": {"role": "assistant", "content": "paris"}}]}
    result = ChatResult(
        {},
        tier="small",
        reason="routed",
        small_answer=answer,
        request_body=BODY,
        attempts=[Attempt("small", {"prompt_tokens": 3, "completion_tokens": 1})],
    )

    async def go():
        start = time.perf_counter()
        observer.finish(result, 0.1)
        elapsed = time.perf_counter() - start
        assert runner.in_flight == 1  # the shadow call is still running...
        await background_tasks()
        return elapsed

    assert asyncio.run(go()) < 0.05  # ...but the request path did not wait for it
    assert events == ["started", "recorded"] and len(store.rows()) == 1
