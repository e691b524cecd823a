"""ChatFlow + TierClient with scripted handles: every routing and error branch, no Ray."""

import asyncio
import json

import pytest

from serve_app import headers as H
from serve_app.cascade.policy import CascadePolicy
from serve_app.chat_flow import ChatFlow
from serve_app.errors import APIError
from serve_app.routing.decision import decide
from serve_app.tier_client import TierClient
from tests.unit.fakes import Req, ScriptedHandle, echo_response, echo_stream, engine_error


def make_flow(small=None, large=None, route=None, timeout_s=2.0, idle_s=2.0, cascade=None):
    """A flow over scripted tiers; the cascade is off unless a policy is given (see test_cascade)."""
    small = small or ScriptedHandle(echo_response)
    large = large or ScriptedHandle(echo_response)

    async def default_route(messages):
        text = messages[-1].get("content") or ""  # an assistant message may have none
        return decide(8.0 if "hard" in text else 1.0, 4.0, "exemplar")

    tiers = {
        "small": TierClient("small", small, timeout_s, idle_s),
        "large": TierClient("large", large, timeout_s, idle_s),
    }
    policy = cascade or CascadePolicy(mode="route_only")
    return ChatFlow(route or default_route, tiers, Req.model_validate, 0.5, policy), small, large


def body(model="auto", content="hi", **extra):
    return json.dumps({"model": model, "messages": [{"role": "user", "content": content}], **extra}).encode()


def run(coro):
    return asyncio.run(coro)


def run_stream(flow, raw):
    """Open and drain a stream in one event loop, as the ingress does."""

    async def go():
        result = await flow.run(raw)
        return result, [frame async for frame in result.stream]

    return asyncio.run(go())


def test_auto_routes_simple_prompt_to_small_with_evidence():
    flow, small, large = make_flow()
    result = run(flow.run(body(content="easy one")))
    assert result.body["choices"][0]["message"]["content"] == "[small] easy one"
    assert result.headers[H.TIER] == "small"
    assert result.headers[H.SCORE] == "1.000"
    assert result.headers[H.STRATEGY] == "exemplar"
    assert result.headers[H.ROUTE_REASON] == "routed"
    assert len(small.requests) == 1 and not large.requests
    assert small.requests[0].model == "small"


def test_auto_routes_complex_prompt_to_large():
    flow, small, large = make_flow()
    result = run(flow.run(body(content="a hard one")))
    assert result.headers[H.TIER] == "large"
    assert result.body["model"] == "large"
    assert not small.requests


@pytest.mark.parametrize("model", ["small", "large"])
def test_named_tier_skips_the_router(model):
    async def boom(messages):
        raise AssertionError("router must not be called")

    flow, _, _ = make_flow(route=boom)
    result = run(flow.run(body(model=model, content="a hard one")))
    assert result.headers[H.TIER] == model
    assert result.headers[H.STRATEGY] == "direct"
    assert H.SCORE not in result.headers


@pytest.mark.parametrize(
    "raw,status,param",
    [
        (b"", 400, None),
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (json.dumps({"model": "auto"}).encode(), 400, "messages"),
        (json.dumps({"model": "auto", "messages": []}).encode(), 400, "messages"),
        (json.dumps({"model": "auto", "messages": "hi"}).encode(), 400, "messages"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(), 400, "model"),
        (
            json.dumps({"model": "auto", "messages": [{"role": "robot", "content": "x"}]}).encode(),
            400,
            "messages[0].role",
        ),
        (
            json.dumps({"model": "auto", "messages": [{"role": "user", "content": 5}]}).encode(),
            400,
            "messages[0].content",
        ),
        (
            json.dumps({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}).encode(),
            400,
            "max_tokens",
        ),
        (
            json.dumps({"model": "auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}).encode(),
            400,
            "stream",
        ),
        (body(model="gpt-4"), 404, "model"),
    ],
)
def test_client_mistakes_get_openai_errors(raw, status, param):
    flow, small, large = make_flow()
    with pytest.raises(APIError) as info:
        run(flow.run(raw))
    err = info.value
    assert err.status == status
    assert err.param == param
    assert set(err.body()["error"]) == {"message", "type", "param", "code"}
    assert not small.requests and not large.requests


def test_request_model_validation_error_is_400():
    flow, _, _ = make_flow()
    with pytest.raises(APIError) as info:
        run(flow.run(body(max_tokens="many")))
    assert info.value.status == 400


def test_router_failure_falls_back_to_large():
    async def broken(messages):
        raise RuntimeError("router replica died")

    flow, small, large = make_flow(route=broken)
    result = run(flow.run(body(content="easy")))
    assert result.headers[H.TIER] == "large"
    assert result.headers[H.ROUTE_REASON] == "router-fallback"
    assert len(large.requests) == 1


def test_router_timeout_falls_back_to_large():
    async def slow(messages):
        await asyncio.sleep(5)

    flow, _, _ = make_flow(route=slow)
    result = run(flow.run(body(content="easy")))
    assert result.headers[H.ROUTE_REASON] == "router-fallback"


def test_tier_exception_is_503_with_evidence():
    flow, _, _ = make_flow(small=ScriptedHandle(raises=RuntimeError("replica died")))
    with pytest.raises(APIError) as info:
        run(flow.run(body(model="small", content="easy")))
    assert info.value.status == 503
    assert info.value.headers[H.TIER] == "small"


def test_auto_request_whose_tier_fails_is_answered_by_the_other_tier():
    flow, _, large = make_flow(small=ScriptedHandle(raises=RuntimeError("replica died")))
    result = run(flow.run(body(content="easy")))
    assert result.tier == "large" and result.headers[H.DEGRADED] == "small-down"
    assert result.headers[H.ROUTE_REASON] == "failover" and len(large.requests) == 1


def test_tier_timeout_is_503_and_cancels():
    slow = ScriptedHandle(echo_response, delay_s=5)
    flow, _, _ = make_flow(small=slow, timeout_s=0.2)
    with pytest.raises(APIError) as info:
        run(flow.run(body(model="small", content="easy")))
    assert info.value.status == 503
    assert "0.2s" in info.value.message
    assert slow.cancelled


def test_engine_client_error_passes_through():
    handle = ScriptedHandle([engine_error(400, "maximum context length is 2048 tokens")])
    flow, _, _ = make_flow(small=handle)
    with pytest.raises(APIError) as info:
        run(flow.run(body(content="easy")))
    assert info.value.status == 400
    assert "context length" in info.value.message


def test_engine_server_error_is_503():
    flow, _, _ = make_flow(small=ScriptedHandle([engine_error(500, "engine dead")]))
    with pytest.raises(APIError) as info:
        run(flow.run(body(model="small", content="easy")))
    assert info.value.status == 503


def test_stream_relays_frames_and_strips_unrequested_usage():
    flow, small, _ = make_flow(small=ScriptedHandle(echo_stream))
    result, frames = run_stream(flow, body(content="easy", stream=True))
    assert frames[-1] == "data: [DONE]\n\n"
    assert frames.count("data: [DONE]\n\n") == 1
    payloads = [json.loads(f[6:]) for f in frames[:-1]]
    assert "".join(p["choices"][0]["delta"]["content"] for p in payloads) == "hello"
    assert small.requests[0].stream_options.include_usage is True


def test_stream_keeps_usage_when_client_asks():
    flow, _, _ = make_flow(small=ScriptedHandle(echo_stream))
    _, frames = run_stream(flow, body(content="easy", stream=True, stream_options={"include_usage": True}))
    usage = [json.loads(f[6:]) for f in frames[:-1] if json.loads(f[6:])["choices"] == []]
    assert usage and usage[0]["usage"]["total_tokens"] == 5


def test_stream_error_before_first_chunk_raises():
    flow, _, _ = make_flow(small=ScriptedHandle([engine_error(400, "too long")]))
    with pytest.raises(APIError) as info:
        run(flow.run(body(content="easy", stream=True)))
    assert info.value.status == 400


def test_stream_stall_ends_with_error_event_and_done():
    handle = ScriptedHandle(echo_stream, delay_after_first_s=5)
    flow, _, _ = make_flow(small=handle, idle_s=0.2)
    result, frames = run_stream(flow, body(content="easy", stream=True))
    assert json.loads(frames[-2][6:])["error"]["code"] == 503
    assert frames[-1] == "data: [DONE]\n\n"


def test_stream_error_frame_before_first_chunk_keeps_its_status():
    frame = 'data: {"error": {"message": "maximum context length is 2048", "type": "BadRequestError", "code": 400}}\n\n'
    flow, _, _ = make_flow(small=ScriptedHandle([[frame], ["data: [DONE]\n\n"]]))
    with pytest.raises(APIError) as info:
        run(flow.run(body(content="easy", stream=True)))
    assert info.value.status == 400 and "context length" in info.value.message
