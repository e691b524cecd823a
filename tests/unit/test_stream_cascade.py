"""The streaming cascade (prefix mode) with scripted token streams: commit, abort, tier failures in
either phase, client disconnects, logprobs kept or stripped, the late check; no Ray, no model."""

import asyncio
import json

import pytest

from serve_app import headers as H
from serve_app.cascade.prefix import ClientView, hold_prefix
from serve_app.errors import APIError
from tests.unit.fakes import ScriptedHandle, echo_stream
from tests.unit.stream_fakes import SURE_TOKEN, UNSURE_TOKEN, TokenStream, words
from tests.unit.test_cascade import flow_with
from tests.unit.test_chat_flow import body

STREAM = {"stream": True}
USAGE = {"stream": True, "stream_options": {"include_usage": True}}


def run_stream(flow, raw, take=None):
    """Run the request and drain (or, with `take`, read that many frames of and then close) its stream."""

    async def go():
        result = await flow.run(raw)
        frames = []
        async for frame in result.stream:
            frames.append(frame)
            if take is not None and len(frames) == take:
                break
        await result.stream.aclose()
        return result, frames

    return asyncio.run(go())


def chunks(frames):
    return [json.loads(f[6:]) for f in frames if f.startswith("data: {")]


def text(frames):
    return "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks(frames) if c.get("choices"))


def verdict(frames):
    comments = [f for f in frames if f.startswith(": tier_router ")]
    assert len(comments) == 1 and frames[-1] == "data: [DONE]\n\n"
    return json.loads(comments[0][len(": tier_router ") :])


def prefix_flow(small, large=None, **policy):
    policy = {"prefix_tokens": 4, **policy}
    return flow_with(
        small_handle=small if isinstance(small, ScriptedHandle) else ScriptedHandle(small),
        large_handle=large if isinstance(large, ScriptedHandle) else ScriptedHandle(large or echo_stream),
        **policy,
    )


def test_confident_prefix_commits_and_streams_the_small_answer_live():
    small = TokenStream(words(20))
    flow, small_h, large_h = prefix_flow(small)
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "".join(words(20))
    assert result.headers[H.TIER] == "small" and result.headers[H.ESCALATED] == "no"
    assert result.headers[H.ESCALATION_REASON] == "confident" and result.headers[H.TIERS_USED] == "small"
    assert float(result.headers[H.CONFIDENCE]) > 0.9
    assert not large_h.requests
    sent = small_h.requests[0]
    assert sent.stream and sent.logprobs and sent.stream_options.continuous_usage_stats
    # the client asked for neither logprobs nor usage: none reach it
    assert all(ch["choices"] and ch["choices"][0].get("logprobs") is None for ch in chunks(frames))
    assert all("usage" not in ch for ch in chunks(frames))
    assert result.prefix.decision == "commit" and result.prefix.tokens == 4 and not result.prefix.whole
    final = verdict(frames)
    assert final["late_check"]["verdict"] == "confident" and final["prefix"]["tokens"] == 4
    assert result.attempts[0].usage["completion_tokens"] == 20  # the small stream's own usage


def test_requested_logprobs_and_usage_reach_the_client_trimmed_with_the_verdict():
    flow, _, _ = prefix_flow(TokenStream(words(6)))
    raw = body(logprobs=True, top_logprobs=1, **USAGE)
    _, frames = run_stream(flow, raw)
    tokens = [
        t
        for ch in chunks(frames)
        if ch["choices"] and ch["choices"][0].get("logprobs")
        for t in ch["choices"][0]["logprobs"]["content"]
    ]
    assert [t["token"] for t in tokens] == words(6)
    assert all(len(t["top_logprobs"]) == 1 for t in tokens)  # the cascade asked for 2
    usage_chunks = [ch for ch in chunks(frames) if ch["choices"] == []]
    assert len(usage_chunks) == 1 and usage_chunks[0]["usage"]["completion_tokens"] == 6
    ext = usage_chunks[0]["tier_router"]
    assert ext["escalated"] is False and ext["attempts"][0]["usage"]["completion_tokens"] == 6
    assert ext == verdict(frames)
    assert all("usage" not in ch for ch in chunks(frames) if ch["choices"])  # running usage stays inside


def test_doubtful_prefix_aborts_the_small_stream_and_streams_large():
    small = TokenStream(words(40), UNSURE_TOKEN)
    flow, small_h, large_h = prefix_flow(small, prefix_tokens=3)
    result, frames = run_stream(flow, body(**USAGE))
    assert text(frames) == "hello"  # only the large answer; no small token leaked
    assert result.headers[H.TIER] == "large" and result.headers[H.ESCALATED] == "yes"
    assert result.headers[H.ESCALATION_REASON] == "low-confidence" and result.reason == "escalated"
    assert result.headers[H.TIERS_USED] == "small,large"
    assert small_h.cancelled and small.produced < 40  # the engine was told to stop
    small_attempt, large_attempt = result.attempts
    assert small_attempt.discarded and small_attempt.usage == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
    }
    assert large_attempt.usage["completion_tokens"] == 2 and not large_attempt.discarded
    assert large_h.requests[0].stream and not large_h.requests[0].logprobs  # the client's own request
    assert result.prefix.decision == "abort" and result.prefix.tokens == 3
    final = verdict(frames)
    assert final["escalated"] is True and final["attempts"][0]["discarded"] is True


def test_late_check_only_annotates_a_committed_answer():
    probs = [SURE_TOKEN] * 4 + [UNSURE_TOKEN] * 30
    flow, _, large_h = prefix_flow(TokenStream(words(34), probs))
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "".join(words(34)) and not large_h.requests
    assert result.headers[H.ESCALATED] == "no"
    late = verdict(frames)["late_check"]
    assert late["verdict"] == "low-confidence" and late["confidence"] < 0.7


def test_late_check_can_be_turned_off():
    flow, _, _ = prefix_flow(TokenStream(words(6)), late_check=False)
    _, frames = run_stream(flow, body(**STREAM))
    assert "late_check" not in verdict(frames)


def test_short_answer_is_judged_whole_and_kept_when_the_escalation_fails():
    flow, small_h, _ = prefix_flow(
        TokenStream(words(2), UNSURE_TOKEN), large=ScriptedHandle(raises=RuntimeError("down"))
    )
    result, frames = run_stream(flow, body(**USAGE))
    assert result.prefix.whole and result.prefix.tokens == 2
    assert text(frames) == "".join(words(2))
    assert result.headers[H.TIER] == "small" and result.headers[H.ESCALATION_REASON] == "escalation-failed"
    small_attempt, large_attempt = result.attempts
    assert not small_attempt.discarded and small_attempt.usage["completion_tokens"] == 2
    assert large_attempt.discarded and large_attempt.error
    assert not small_h.cancelled  # it had finished


def test_large_failure_after_an_abort_mid_answer_is_a_503():
    small = TokenStream(words(40), UNSURE_TOKEN)
    flow, small_h, _ = prefix_flow(small, large=ScriptedHandle(raises=RuntimeError("down")))
    with pytest.raises(APIError) as info:
        run_stream(flow, body(**STREAM))
    assert info.value.status == 503 and small_h.cancelled  # no answer to fall back on


def test_large_failure_mid_stream_after_an_abort_is_an_error_event():
    def dying(request):
        yield echo_stream(request)[0]
        raise RuntimeError("large died")

    flow, _, _ = prefix_flow(TokenStream(words(40), UNSURE_TOKEN), large=ScriptedHandle(dying))
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "hel"
    errors = [ch for ch in chunks(frames) if "error" in ch]
    assert len(errors) == 1 and errors[0]["error"]["code"] == 503 and frames[-1] == "data: [DONE]\n\n"


@pytest.mark.parametrize("fail_at", [0, 2])
def test_small_failure_during_the_prefix_falls_back_to_large(fail_at):
    flow, _, large_h = prefix_flow(TokenStream(words(20), fail_at=fail_at))
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "hello"
    assert result.headers[H.ESCALATION_REASON] == "small-error" and result.reason == "fallback"
    assert result.attempts[0].error and result.attempts[0].discarded
    assert result.prefix.decision == "small-error"


def test_small_failure_before_the_stream_falls_back_or_fails_per_policy():
    flow, _, _ = prefix_flow(ScriptedHandle(raises=RuntimeError("down")))
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "hello" and result.headers[H.ESCALATION_REASON] == "small-error"
    flow, _, large_h = prefix_flow(TokenStream(words(20), fail_at=2), on_small_error="fail")
    with pytest.raises(APIError) as info:
        run_stream(flow, body(**STREAM))
    assert info.value.status == 503 and not large_h.requests


def test_small_failure_after_commit_ends_the_stream_with_an_error_event():
    flow, _, large_h = prefix_flow(TokenStream(words(20), fail_at=10))
    result, frames = run_stream(flow, body(**STREAM))
    assert text(frames) == "".join(words(10)) and not large_h.requests
    assert [ch["error"]["code"] for ch in chunks(frames) if "error" in ch] == [503]


def test_client_disconnect_during_the_prefix_stops_the_small_engine():
    small_h = ScriptedHandle(TokenStream(words(20)), delay_after_first_s=5.0)
    flow, _, large_h = prefix_flow(small_h)

    async def go():
        task = asyncio.create_task(flow.run(body(**STREAM)))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert small_h.cancelled and not large_h.requests


def test_client_disconnect_after_commit_stops_the_small_engine():
    small = TokenStream(words(50))
    flow, small_h, _ = prefix_flow(small)
    result, frames = run_stream(flow, body(**STREAM), take=6)
    assert small_h.cancelled and small.produced < 50


def test_client_disconnect_during_the_large_stream_stops_the_large_engine():
    large = TokenStream(words(50, "L"))
    flow, _, large_h = prefix_flow(TokenStream(words(20), UNSURE_TOKEN), large=large)
    run_stream(flow, body(**STREAM), take=4)
    assert large_h.cancelled and large.produced < 50


def test_buffered_mode_and_self_assessment_still_judge_the_whole_answer():
    for policy in ({"streaming": "buffered"}, {"method": "self_assessment"}):
        flow, small_h, _ = prefix_flow(TokenStream(words(6)), **policy)
        result, frames = run_stream(flow, body(**STREAM))
        assert small_h.requests[0].stream is False and result.prefix is None
        assert not any(f.startswith(":") for f in frames)


def test_per_request_override_of_streaming_and_prefix_length():
    flow, small_h, _ = prefix_flow(TokenStream(words(20)))
    result, _ = run_stream(flow, body(tier_router={"cascade": {"prefix_tokens": 7}}, **STREAM))
    assert result.prefix.tokens == 7
    flow, small_h, _ = prefix_flow(TokenStream(words(20)))
    result, frames = run_stream(flow, body(tier_router={"cascade": {"streaming": "buffered"}}, **STREAM))
    assert small_h.requests[0].stream is False and text(frames) == "".join(words(20))


def test_non_streamed_requests_are_unchanged():
    flow, small_h, _ = prefix_flow(TokenStream(words(6)))
    result = asyncio.run(flow.run(body()))
    assert small_h.requests[0].stream is False and result.prefix is None
    assert result.body["choices"][0]["message"]["content"] == "".join(words(6))


async def _frames(items):
    for item in items:
        yield item


def _token_frame(n=1):
    content = [{"token": "t", "logprob": -0.01, "top_logprobs": []}] * n
    return (
        "data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": "t"}, "logprobs": {"content": content}}]})
        + "\n\n"
    )


def test_prefix_window_decides_before_k_tokens():
    ticks = iter([0.0, 0.1, 0.6, 0.7, 0.8])
    held = asyncio.run(hold_prefix(_frames([_token_frame()] * 10), "small", 8, window_s=0.5, clock=lambda: next(ticks)))
    assert held.count == 2 and not held.finished


def test_content_without_logprobs_cannot_be_judged():
    frame = "data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "x"}}]}) + "\n\n"
    held = asyncio.run(hold_prefix(_frames([frame] * 5), "small", 3))
    assert held.count == 3 and held.logprobs() is None


def test_client_view_strips_or_trims():
    chunk = {
        "choices": [
            {
                "index": 0,
                "delta": {"content": "x"},
                "logprobs": {
                    "content": [{"token": "x", "logprob": -0.1, "top_logprobs": [{"token": "x"}, {"token": "y"}]}]
                },
            }
        ],
        "usage": {"prompt_tokens": 1},
    }
    assert ClientView().render(chunk, dict)["choices"][0]["logprobs"] is None
    kept = ClientView(logprobs=True, top_logprobs=1).render(chunk, dict)
    assert kept["choices"][0]["logprobs"]["content"][0]["top_logprobs"] == [{"token": "x"}] and "usage" not in kept
    assert len(chunk["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 2  # not mutated


def test_large_failure_with_a_whole_small_answer_fails_when_the_policy_says_so():
    flow, _, _ = prefix_flow(
        TokenStream(words(2), UNSURE_TOKEN), large=ScriptedHandle(raises=RuntimeError("down")), on_large_error="fail"
    )
    with pytest.raises(APIError) as info:
        run_stream(flow, body(**STREAM))
    assert info.value.status == 503


@pytest.mark.parametrize("tokens,probs,decision", [(20, SURE_TOKEN, "commit"), (20, UNSURE_TOKEN, "abort")])
def test_observer_counts_prefix_decisions_and_tokens(tokens, probs, decision):
    from serve_app.graph.metrics import IngressMetrics
    from serve_app.operations.alarm import LargeShareAlarm
    from serve_app.operations.observer import RequestObserver
    from tests.unit.test_ops import FakeMetricsModule

    flow, _, _ = prefix_flow(TokenStream(words(tokens), probs), prefix_tokens=5)
    result, _ = run_stream(flow, body(**STREAM))
    metrics = IngressMetrics(FakeMetricsModule)
    RequestObserver(metrics, LargeShareAlarm(0.3, 60, 1)).finish(result, 0.1, 0.05)
    assert metrics.prefix_decisions.calls == [(1.0, {"decision": decision})]
    assert metrics.prefix_tokens.calls == [(5, {"decision": decision})]
    tokens_by_tier = {(t["tier"], t["kind"]): v for v, t in metrics.tokens.calls}
    assert tokens_by_tier[("small", "completion")] == (20 if decision == "commit" else 5)  # the paid prefix counts


@pytest.mark.parametrize(
    "method,probs,decision", [("min_prob", SURE_TOKEN, "commit"), ("first_prob", UNSURE_TOKEN, "abort")]
)
def test_every_logprob_method_judges_a_prefix(method, probs, decision):
    flow, small_h, _ = prefix_flow(TokenStream(words(20), probs), method=method)
    result, _ = run_stream(flow, body(**STREAM))
    assert small_h.requests[0].stream and result.prefix.decision == decision
    assert result.headers[H.CONFIDENCE_METHOD] == method
