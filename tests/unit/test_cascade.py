"""Confidence escalation with scripted tiers: every branch of the cascade, no Ray, no model."""

import asyncio
import json
import math

import pytest

from serve_app import headers as H
from serve_app.cascade.confidence import logprob_confidence, parse_self_assessment, self_assessment_request
from serve_app.cascade.policy import CascadePolicy
from serve_app.errors import APIError
from tests.unit.fakes import ScriptedHandle, echo_stream, scripted_answer, token_logprobs
from tests.unit.test_chat_flow import body, make_flow

SURE = token_logprobs([(0.99, 0.005)] * 4)  # confidence ~0.99
UNSURE = token_logprobs([(0.3, 0.25)] * 4)  # confidence ~0.18


def flow_with(small_script=None, large_script=None, small_handle=None, large_handle=None, **policy):
    small = small_handle or ScriptedHandle(small_script)
    large = large_handle or ScriptedHandle(large_script or scripted_answer("large answer", usage=(10, 20)))
    flow, _, _ = make_flow(small=small, large=large, cascade=CascadePolicy(**policy))
    return flow, small, large


def run(flow, raw):
    async def go():
        result = await flow.run(raw)
        frames = [f async for f in result.stream] if result.stream is not None else None
        return result, frames

    return asyncio.run(go())


def content_of(frames):
    return "".join(
        json.loads(f[6:])["choices"][0]["delta"].get("content") or ""
        for f in frames[:-1]
        if json.loads(f[6:])["choices"]
    )


# --- confidence functions -------------------------------------------------------------------


def test_logprob_confidence_mixes_mean_probability_and_margin():
    conf = logprob_confidence(token_logprobs([(0.8, 0.1), (0.6, 0.3)]), weight=0.5)
    mean_prob = math.exp((math.log(0.8) + math.log(0.6)) / 2)
    assert conf == pytest.approx(0.5 * mean_prob + 0.5 * ((0.7 + 0.3) / 2))
    assert logprob_confidence(token_logprobs([(1.0, 1e-12)]), 0.5) == pytest.approx(1.0)


@pytest.mark.parametrize("logprobs", [None, {}, {"content": []}, {"content": [{"token": "a", "logprob": None}]}])
def test_missing_logprobs_give_no_confidence(logprobs):
    assert logprob_confidence(logprobs, 0.5) is None


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"content": "Paris", "confidence": 0.9}', ("Paris", 0.9)),
        ('{"content": "Paris", "confidence": 1}', ("Paris", 1.0)),
        ('{"content": "Paris"}', ("Paris", None)),
        ('{"confidence": 0.9}', (None, None)),
        ('{"content": "Paris", "confidence": 1.5}', ("Paris", None)),
        ('{"content": "Paris", "confidence": -0.1}', ("Paris", None)),
        ('{"content": "Paris", "confidence": "high"}', ("Paris", None)),
        ('{"content": "Paris", "confidence": true}', ("Paris", None)),
        ('{"content": "Paris", "confidence": 0.9', (None, None)),
        ("Paris", (None, None)),
        ("[1, 2]", (None, None)),
        ("", (None, None)),
    ],
)
def test_self_assessment_parsing_never_reads_bad_values_as_confident(text, expected):
    assert parse_self_assessment(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ('{"confidence": 0.8, "content": "Paris is the cap', ("Paris is the cap", 0.8)),
        ('{"confidence": 0.8, "content": "say \\', ("say ", 0.8)),
        ('{"confidence": 0.8', (None, None)),
    ],
)
def test_truncated_self_assessment_keeps_the_confidence(text, expected):
    assert parse_self_assessment(text, truncated=True) == expected
    assert parse_self_assessment(text, truncated=False) == (None, None)


def test_self_assessment_request_uses_structured_output():
    req = self_assessment_request({"model": "auto", "messages": [{"role": "user", "content": "hi"}]}, "judge")
    assert req["messages"][0] == {"role": "system", "content": "judge"}
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"]["required"] == ["confidence", "content"]


# --- the escalation edge --------------------------------------------------------------------


def test_confident_small_answer_is_returned_without_logprobs():
    flow, small, large = flow_with(scripted_answer("small answer", SURE))
    result, _ = run(flow, body(content="easy"))
    assert result.body["choices"][0]["message"]["content"] == "small answer"
    assert "logprobs" not in result.body["choices"][0]  # the client did not ask for them
    assert result.headers[H.ESCALATED] == "no" and result.headers[H.TIER] == "small"
    assert float(result.headers[H.CONFIDENCE]) > 0.9
    assert small.requests[0].logprobs is True and small.requests[0].top_logprobs == 2
    assert not large.requests


def test_unconfident_small_answer_escalates_with_original_request():
    flow, small, large = flow_with(scripted_answer("small answer", UNSURE))
    result, _ = run(flow, body(content="easy"))
    assert result.body["choices"][0]["message"]["content"] == "large answer"
    assert result.headers[H.ESCALATED] == "yes" and result.headers[H.TIER] == "large"
    assert result.headers[H.TIERS_USED] == "small,large"
    assert result.headers[H.ESCALATION_REASON] == "low-confidence"
    assert large.requests[0].logprobs is None  # the client's request, not the judged one
    attempts = result.body["tier_router"]["attempts"]
    assert [(a["tier"], a["discarded"]) for a in attempts] == [("small", True), ("large", False)]
    assert result.body["usage"]["completion_tokens"] == 20  # usage is the returned answer's
    assert "small;prompt=10;completion=5;discarded=1" in result.headers[H.ATTEMPTS]


def test_no_logprobs_means_escalate():
    flow, _, large = flow_with(scripted_answer("small answer", None))
    result, _ = run(flow, body(content="easy"))
    assert result.headers[H.CONFIDENCE] == "none" and result.headers[H.ESCALATED] == "yes"
    assert len(large.requests) == 1


@pytest.mark.parametrize(
    "answer,escalated,content",
    [
        ('{"content": "Paris", "confidence": 0.95}', "no", "Paris"),
        ('{"content": "Paris", "confidence": 0.2}', "yes", "large answer"),
        ("not json at all", "yes", "large answer"),
        ('{"content": "Paris"}', "yes", "large answer"),
    ],
)
def test_self_assessment_branches(answer, escalated, content):
    flow, small, _ = flow_with(scripted_answer(answer), method="self_assessment")
    result, _ = run(flow, body(content="easy"))
    assert result.headers[H.ESCALATED] == escalated
    assert result.headers[H.CONFIDENCE_METHOD] == "self_assessment"
    assert result.body["choices"][0]["message"]["content"] == content  # the wrapper never leaks
    assert small.requests[0].response_format["type"] == "json_schema"


def test_small_tier_error_falls_back_to_large():
    flow, _, large = flow_with(small_handle=ScriptedHandle(raises=RuntimeError("replica died")))
    result, _ = run(flow, body(content="easy"))
    assert result.headers[H.ESCALATION_REASON] == "small-error" and result.headers[H.TIER] == "large"


def test_small_tier_error_can_fail():
    flow, _, _ = flow_with(small_handle=ScriptedHandle(raises=RuntimeError("dead")), on_small_error="fail")
    with pytest.raises(APIError) as info:
        run(flow, body(content="easy"))
    assert info.value.status == 503


def test_large_tier_error_returns_small_answer_unescalated():
    flow, _, _ = flow_with(
        scripted_answer("small answer", UNSURE), large_handle=ScriptedHandle(raises=RuntimeError("no GPUs"))
    )
    result, _ = run(flow, body(content="easy"))
    assert result.body["choices"][0]["message"]["content"] == "small answer"
    assert result.headers[H.ESCALATED] == "no" and result.headers[H.TIER] == "small"
    assert result.headers[H.ESCALATION_REASON] == "escalation-failed"


def test_unusable_self_assessment_is_never_returned_even_if_large_fails():
    flow, _, _ = flow_with(
        scripted_answer('{"confidence": 0.9, "cont'),
        method="self_assessment",
        large_handle=ScriptedHandle(raises=RuntimeError("no GPUs")),
    )
    with pytest.raises(APIError) as info:
        run(flow, body(content="easy"))
    assert info.value.status == 503


def test_large_tier_error_can_fail():
    flow, _, _ = flow_with(
        scripted_answer("small answer", UNSURE),
        on_large_error="fail",
        large_handle=ScriptedHandle(raises=RuntimeError("no GPUs")),
    )
    with pytest.raises(APIError) as info:
        run(flow, body(content="easy"))
    assert info.value.status == 503


def test_client_error_from_small_tier_is_not_escalated():
    from tests.unit.fakes import engine_error

    flow, _, large = flow_with(lambda r: [engine_error(400, "maximum context length")])
    with pytest.raises(APIError) as info:
        run(flow, body(content="easy"))
    assert info.value.status == 400 and not large.requests


@pytest.mark.parametrize(
    "override,escalated",
    [
        ({"threshold": 0.0}, "no"),
        ({"threshold": 0.1}, "no"),
        ({"threshold": 1.01}, "yes"),
    ],
)
def test_per_request_threshold_override(override, escalated):
    flow, _, _ = flow_with(scripted_answer("small answer", UNSURE))
    result, _ = run(flow, body(content="easy", tier_router={"cascade": override}))
    assert result.headers[H.ESCALATED] == escalated


def test_per_request_disable_and_bad_override():
    flow, small, _ = flow_with(scripted_answer("small answer", UNSURE))
    result, _ = run(flow, body(content="easy", tier_router={"cascade": {"enabled": False}}))
    assert H.ESCALATED not in result.headers and small.requests[0].logprobs is None
    with pytest.raises(APIError) as info:
        run(flow, body(content="easy", tier_router={"cascade": {"threshold": -1}}))
    assert info.value.status == 400 and info.value.param == "tier_router.cascade.threshold"
    with pytest.raises(APIError):
        run(flow, body(content="easy", tier_router={"cascade": {"methd": "x"}}))


def test_large_route_never_cascades():
    flow, small, large = flow_with(scripted_answer("small answer", UNSURE))
    result, _ = run(flow, body(content="a hard one"))
    assert result.headers[H.TIER] == "large" and H.ESCALATED not in result.headers
    assert not small.requests


def test_route_only_and_cascade_only_modes():
    flow, small, large = flow_with(scripted_answer("small answer", UNSURE), mode="route_only")
    result, _ = run(flow, body(content="easy"))
    assert result.headers[H.TIER] == "small" and H.ESCALATED not in result.headers
    flow, small, large = flow_with(scripted_answer("small answer", SURE), mode="cascade_only")
    result, _ = run(flow, body(content="a hard one"))  # the router would say large
    assert result.headers[H.ROUTE_REASON] == "cascade-only" and result.headers[H.TIER] == "small"
    assert H.SCORE not in result.headers


def test_streaming_replays_a_confident_answer():
    flow, small, _ = flow_with(
        scripted_answer("one two three four five six seven eight nine ten", SURE), streaming="buffered"
    )
    result, frames = run(flow, body(content="easy", stream=True, stream_options={"include_usage": True}))
    assert small.requests[0].stream is False  # judged before streaming
    assert small.requests[0].stream_options is None  # engines reject stream_options without stream
    assert content_of(frames) == "one two three four five six seven eight nine ten"
    assert frames[-1] == "data: [DONE]\n\n"
    assert json.loads(frames[-2][6:])["usage"]["total_tokens"] == 15
    assert result.headers[H.ESCALATED] == "no"


def test_streaming_escalation_streams_the_large_tier():
    flow, _, large = flow_with(scripted_answer("small answer", UNSURE), large_script=echo_stream, streaming="buffered")
    result, frames = run(flow, body(content="easy", stream=True))
    assert content_of(frames) == "hello"
    assert result.headers[H.ESCALATED] == "yes" and large.requests[0].stream is True
    assert result.attempts[-1].tier == "large" and result.attempts[-1].usage["total_tokens"] == 5
    assert all(json.loads(f[6:])["choices"] for f in frames[:-1])  # usage not requested


def test_replay_keeps_requested_logprobs():
    from serve_app.cascade.replay import replay_frames

    logprobs = {
        "content": [
            {"token": "Hi", "logprob": -0.1, "top_logprobs": []},
            {"token": " there", "logprob": -0.2, "top_logprobs": []},
        ]
    }
    answer = {
        "id": "x",
        "model": "small",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": logprobs,
                "message": {"role": "assistant", "content": "Hi there"},
            }
        ],
    }
    chunks = [json.loads(f[6:]) for f in replay_frames(answer, False)[:-1]]
    streamed = [t for c in chunks for ch in c["choices"] for t in ((ch.get("logprobs") or {}).get("content") or [])]
    assert streamed == logprobs["content"]
    assert "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"]) == "Hi there"
