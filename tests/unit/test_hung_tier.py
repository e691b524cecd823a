"""A tier that takes requests and never answers counts as failed for its breaker, though the request
deadline (equal to the tier's own timeout, as shipped) would end the wait first (no Ray)."""

import asyncio
import json
import time

import pytest

from serve_app import headers as H
from serve_app.circuit import CLOSED, OPEN, CircuitBreaker
from serve_app.config import CascadePolicy
from serve_app.errors import APIError
from serve_app.request_deadline import MARGIN_S, RequestDeadline
from serve_app.routing.decision import decide
from tests.unit.fakes import ScriptedHandle, echo_response, echo_stream
from tests.unit.stream_fakes import UNSURE_TOKEN, TokenStream, words
from tests.unit.test_chat_flow import body, make_flow, run, run_stream

DEADLINE_S = 0.3  # also each tier's request_timeout_s, as in the shipped config
ALWAYS_ESCALATE = CascadePolicy(threshold=2.0)


class Hung(ScriptedHandle):
    """Takes every request and never yields anything (a wedged engine)."""

    def _remote(self, request, raw):
        self.requests.append(request)
        handle = self

        class Gen:
            def __aiter__(self):
                return self

            async def __anext__(self):
                await asyncio.Event().wait()

            def cancel(self):
                handle.cancelled = True

        return Gen()


def hung_flow(**kwargs):
    flow, small, large = make_flow(timeout_s=DEADLINE_S, **kwargs)
    flow.deadline_s = DEADLINE_S
    return flow, small, large


async def deadline_503_async(flow, raw) -> tuple[APIError, float]:
    """The request's error and how long it took."""
    start = asyncio.get_running_loop().time()
    with pytest.raises(APIError) as info:
        result = await flow.run(raw)
        if result.stream is not None:
            [frame async for frame in result.stream]
    return info.value, asyncio.get_running_loop().time() - start


def deadline_503(flow, raw) -> tuple[APIError, float]:
    return run(deadline_503_async(flow, raw))


def assert_deadline_503(error: APIError, tier: str, waited_on: str | None = None) -> None:
    """The request deadline's 503: the message names the tier waited on, the headers the route's, no Retry-After."""
    assert error.status == 503
    assert error.message == (
        f"The {waited_on or tier} tier is unavailable: no answer within {DEADLINE_S:g}s (request deadline)"
    )
    assert error.headers[H.TIER] == tier and error.headers[H.ROUTE_REASON] == "routed"
    assert "retry-after" not in error.headers


@pytest.mark.parametrize("stream", [False, True])
def test_hung_small_tier_opens_its_breaker_then_auto_fails_over_to_large(stream):
    flow, small, large = hung_flow(small=Hung())
    if stream:
        large.items = echo_stream
    for expected_failures in (1, 2):
        error, elapsed = deadline_503(flow, body(content="easy", stream=stream))
        assert_deadline_503(error, "small")
        assert elapsed < DEADLINE_S  # the tier's cut wait ended it, MARGIN_S before the deadline
        assert small.cancelled and not large.requests  # no time left for a retry on large
        assert flow.tiers["small"].breaker.failures == expected_failures
    assert flow.tiers["small"].breaker.state == OPEN
    if stream:
        result, frames = run_stream(flow, body(content="easy", stream=True))
        assert frames[-1] == "data: [DONE]\n\n" and all('"model":"large"' in f for f in frames[:-1])
    else:
        result = run(flow.run(body(content="easy")))
        assert result.body["choices"][0]["message"]["content"] == "[large] easy"
    assert result.headers[H.TIER] == "large" and result.headers[H.DEGRADED] == "small-down"
    assert len(small.requests) == 2 and len(large.requests) == 1


def test_hung_large_tier_in_an_escalation_returns_the_small_answer_under_return_small_and_opens_large():
    assert ALWAYS_ESCALATE.on_large_error == "return_small"  # the shipped default
    flow, small, large = hung_flow(large=Hung(), cascade=ALWAYS_ESCALATE)
    for _ in range(2):
        start = time.monotonic()
        result = run(flow.run(body(content="easy")))
        assert time.monotonic() - start < DEADLINE_S  # answered within the deadline's margin
        assert result.body["choices"][0]["message"]["content"] == "[small] easy"
        assert result.headers[H.TIER] == "small" and result.headers[H.ESCALATION_REASON] == "escalation-failed"
        small_attempt, large_attempt = result.attempts
        assert not small_attempt.discarded and large_attempt.discarded
        assert "large tier gave no answer" in large_attempt.error
    assert flow.tiers["large"].breaker.state == OPEN
    assert flow.tiers["small"].breaker.state == CLOSED and flow.tiers["small"].breaker.failures == 0
    assert len(small.requests) == 2 and len(large.requests) == 2
    result = run(flow.run(body(content="a hard one")))  # routed to large, which is down
    assert result.headers[H.TIER] == "small" and result.headers[H.DEGRADED] == "large-down"
    assert len(large.requests) == 2


def test_hung_large_tier_in_a_streamed_escalation_returns_the_whole_small_answer_under_return_small():
    small_stream = ScriptedHandle(TokenStream(words(2), UNSURE_TOKEN))  # ends inside the prefix: whole
    flow, _, large = hung_flow(small=small_stream, large=Hung(), cascade=CascadePolicy(prefix_tokens=4))
    result, frames = run_stream(flow, body(content="easy", stream=True))
    data = [f for f in frames if f.startswith("data: {")]
    assert frames[-1] == "data: [DONE]\n\n" and not any('"error"' in f for f in data)
    assert "".join(words(2)) == "".join(json.loads(f[6:])["choices"][0]["delta"].get("content") or "" for f in data)
    assert result.headers[H.TIER] == "small" and result.headers[H.ESCALATION_REASON] == "escalation-failed"
    assert len(large.requests) == 1 and flow.tiers["large"].breaker.failures == 1


@pytest.mark.parametrize("stream", [False, True])
def test_hung_large_tier_in_an_escalation_under_fail_is_a_503_naming_large(stream):
    policy = CascadePolicy(threshold=2.0, on_large_error="fail", prefix_tokens=4)
    small_handle = ScriptedHandle(TokenStream(words(2), UNSURE_TOKEN)) if stream else None
    flow, small, large = hung_flow(small=small_handle, large=Hung(), cascade=policy)
    for _ in range(2):
        error, elapsed = deadline_503(flow, body(content="easy", stream=stream))
        assert_deadline_503(error, "small", waited_on="large")  # the route's tier in the headers
        assert elapsed < DEADLINE_S
    assert flow.tiers["large"].breaker.state == OPEN
    assert flow.tiers["small"].breaker.state == CLOSED and flow.tiers["small"].breaker.failures == 0
    assert len(small.requests) == 2 and len(large.requests) == 2


class SlowOnLongAnswers(ScriptedHandle):
    """A live tier: answers at once, except "long" prompts, which take longer than the deadline."""

    def _remote(self, request, raw):
        self.requests.append(request)
        delay_s = 10.0 if "long" in request.messages[-1]["content"] else 0.0
        return ScriptedHandle(self.items, delay_s=delay_s)._remote(request, raw)


def test_slow_tier_that_answered_another_request_meanwhile_is_not_blamed():
    flow, small, _ = hung_flow(small=SlowOnLongAnswers(echo_response))

    async def slow_and_quick():
        slow = asyncio.ensure_future(deadline_503_async(flow, body(model="small", content="long answer")))
        await asyncio.sleep(0.05)
        quick = await flow.run(body(model="small", content="short"))  # succeeds while the slow one waits
        return await slow, quick

    for _ in range(3):  # more than failure_threshold
        (error, elapsed), quick = run(slow_and_quick())
        assert error.status == 503 and error.message.startswith("The small tier is unavailable: no answer")
        assert elapsed < DEADLINE_S and quick.body["choices"][0]["message"]["content"] == "[small] short"
        assert flow.tiers["small"].breaker.state == CLOSED and flow.tiers["small"].breaker.failures == 0
    assert len(small.requests) == 6


def test_slow_tier_with_no_success_meanwhile_is_blamed():
    flow, small, _ = hung_flow(small=SlowOnLongAnswers(echo_response))
    assert run(flow.run(body(model="small", content="short"))).body  # a success before the wait: not "meanwhile"
    for expected_failures in (1, 2):
        error, _elapsed = run(deadline_503_async(flow, body(model="small", content="long answer")))
        assert error.status == 503 and flow.tiers["small"].breaker.failures == expected_failures
    assert flow.tiers["small"].breaker.state == OPEN


def test_breaker_remembers_its_last_success_on_its_own_clock():
    now = [100.0]
    breaker = CircuitBreaker(clock=lambda: now[0])
    assert not breaker.succeeded_since(0.0)
    breaker.record_success()
    assert breaker.succeeded_since(100.0) and not breaker.succeeded_since(100.5)
    now[0] = 101.0
    breaker.record_failure()
    assert breaker.succeeded_since(100.0) and not breaker.succeeded_since(101.0)
    breaker.close()  # the readiness poll: a running replica is not an answered request
    assert breaker.failures == 0 and not breaker.succeeded_since(101.0)


def test_tier_left_little_of_the_deadline_by_the_router_is_not_blamed():
    async def slow_route(messages):
        await asyncio.sleep(0.2)  # of the 0.3 s deadline: small is left under half of it
        return decide(1.0, 4.0, "exemplar")

    flow, small, _ = hung_flow(small=Hung(), route=slow_route)
    for _ in range(3):
        error, _elapsed = deadline_503(flow, body(content="easy"))
        assert_deadline_503(error, "small")
    assert len(small.requests) == 3 and flow.tiers["small"].breaker.failures == 0
    assert flow.tiers["small"].breaker.state == CLOSED


def test_large_left_little_of_the_deadline_by_a_slow_small_attempt_is_not_blamed():
    slow_small = ScriptedHandle(echo_response, delay_s=0.12)  # leaves large under half the deadline
    flow, _, large = hung_flow(small=slow_small, large=Hung(), cascade=ALWAYS_ESCALATE)
    for _ in range(3):
        error, _elapsed = deadline_503(flow, body(content="easy"))
        assert_deadline_503(error, "small")
    assert len(large.requests) == 3 and flow.tiers["large"].breaker.failures == 0
    assert flow.tiers["small"].breaker.failures == 0


def test_the_deadline_ends_at_the_first_chunk_not_at_the_end_of_the_stream():
    slow_after_first = ScriptedHandle(echo_stream, delay_after_first_s=DEADLINE_S + 0.1)
    flow, _, _ = hung_flow(small=slow_after_first, idle_s=2.0)
    result, frames = run_stream(flow, body(model="small", stream=True))
    assert frames[-1] == "data: [DONE]\n\n" and not any('"error"' in f for f in frames)
    assert "".join(frames).count("chat.completion.chunk") == 2
    assert flow.tiers["small"].breaker.state == CLOSED and flow.tiers["small"].breaker.failures == 0


def test_cut_wait_rule():
    deadline = RequestDeadline(at=100.0, total_s=10.0)
    assert deadline.cut_wait_s(own_timeout_s=10.0, now=90.0) == pytest.approx(10.0 - MARGIN_S)
    assert deadline.cut_wait_s(own_timeout_s=5.0, now=90.0) is None  # the tier's own timeout comes first
    assert deadline.cut_wait_s(own_timeout_s=10.0, now=95.0 - MARGIN_S) == pytest.approx(5.0)  # exactly half
    assert deadline.cut_wait_s(own_timeout_s=10.0, now=95.0) is None  # under half the deadline left: not blamed
    assert deadline.cut_wait_s(own_timeout_s=10.0, now=101.0) is None
