"""End to end on the shipped CPU default: real MiniLM router, real vLLM CPU engines serving
SmolLM2-135M-Instruct as `small` and `large`, driven over HTTP with the official openai client."""

import json

import httpx
import pytest

from serve_app import headers as H
from tests.graph.conftest import cpu_default_args, deployed, openai_client

pytestmark = pytest.mark.vllm

SIMPLE = "What is Python?"
COMPLEX = "Refactor this recursive algorithm to iterative with O(1) space"


@pytest.fixture(scope="module")
def base_url(serve_port):
    with deployed(cpu_default_args(), "tier-router", "/", serve_port) as url:
        yield url


@pytest.fixture
def client(base_url):
    return openai_client(base_url, 120)


def chat(client, text, model="auto", **kw):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=16, temperature=0, **kw
    )
    return raw.parse(), raw.headers


def test_auto_routes_the_design_examples_to_real_engines(client):
    reply, headers = chat(client, SIMPLE, extra_body=cascade(enabled=False))
    assert headers[H.TIER] == "small" and float(headers[H.SCORE]) < 4.0
    assert reply.model == "small"
    assert reply.choices[0].message.content.strip()
    assert reply.usage.completion_tokens > 0
    assert reply.choices[0].finish_reason in ("stop", "length")
    reply, headers = chat(client, COMPLEX)
    assert headers[H.TIER] == "large" and float(headers[H.SCORE]) > 4.0
    assert reply.model == "large" and reply.choices[0].message.content.strip()


@pytest.mark.parametrize("model", ["small", "large"])
def test_named_tiers(client, model):
    reply, headers = chat(client, "Say hello.", model=model)
    assert reply.model == model and headers[H.TIER] == model and headers[H.STRATEGY] == "direct"


def test_streaming_through_the_graph(client):
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": SIMPLE}],
        max_tokens=12,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_raw_stream_ends_with_done_and_carries_headers(base_url):
    body = {"model": "auto", "stream": True, "max_tokens": 8, "messages": [{"role": "user", "content": COMPLEX}]}
    with httpx.stream("POST", f"{base_url}/v1/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200 and r.headers[H.TIER] == "large"
        frames = [f for f in r.read().decode().split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert all(json.loads(f[6:])["choices"] for f in frames[:-1])  # no unrequested usage chunk


def test_models_endpoint(client):
    assert [m.id for m in client.models.list()] == ["auto", "small", "large"]


@pytest.mark.parametrize(
    "payload,status,needle",
    [
        (b"{oops", 400, "not valid JSON"),
        (json.dumps({"model": "auto", "messages": []}).encode(), 400, "messages"),
        (json.dumps({"model": "auto"}).encode(), 400, "messages"),
        (
            json.dumps({"model": "llama-9000", "messages": [{"role": "user", "content": "x"}]}).encode(),
            404,
            "does not exist",
        ),
        (
            json.dumps({"model": "small", "messages": [{"role": "user", "content": "word " * 3000}]}).encode(),
            400,
            "context length",
        ),
        (
            json.dumps({"model": "auto", "max_tokens": 5000, "messages": [{"role": "user", "content": "hi"}]}).encode(),
            400,
            "max_tokens",
        ),
    ],
)
def test_errors_on_the_real_graph(base_url, payload, status, needle):
    r = httpx.post(
        f"{base_url}/v1/chat/completions", content=payload, timeout=120, headers={"content-type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert needle in r.json()["error"]["message"]


def test_streamed_prompt_over_context_is_400_not_a_broken_stream(base_url):
    body = {"model": "large", "stream": True, "messages": [{"role": "user", "content": "word " * 3000}]}
    r = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=120)
    assert r.status_code == 400 and "context length" in r.json()["error"]["message"]


# --- confidence escalation on real engines ------------------------------------------------------


def cascade(**override):
    return {"tier_router": {"cascade": override}}


@pytest.mark.parametrize("method", ["logprobs", "self_assessment"])
def test_threshold_zero_never_escalates(client, method):
    reply, headers = chat(client, SIMPLE, extra_body=cascade(method=method, threshold=0.0))
    assert headers[H.TIER] == "small" and headers[H.ESCALATED] == "no"
    assert headers[H.CONFIDENCE] != "none"  # the real engine's answer was judged
    assert 0.0 <= float(headers[H.CONFIDENCE]) <= 1.0
    content = reply.choices[0].message.content
    assert content.strip() and '"confidence"' not in content  # the wrapper never leaks


@pytest.mark.parametrize("method", ["logprobs", "self_assessment"])
def test_threshold_above_one_always_escalates(client, method):
    reply, headers = chat(client, SIMPLE, extra_body=cascade(method=method, threshold=1.01))
    assert headers[H.ESCALATED] == "yes" and headers[H.TIER] == "large"
    assert reply.model == "large"
    small, large = reply.model_extra["tier_router"]["attempts"]
    assert small["discarded"] and small["usage"]["completion_tokens"] > 0 and not large["discarded"]


def test_structured_output_from_the_real_engine_parses(base_url):
    from serve_app.cascade.confidence import parse_self_assessment, self_assessment_request
    from serve_app.cascade.policy import DEFAULT_SELF_ASSESSMENT_PROMPT

    body = self_assessment_request(
        {"model": "small", "max_tokens": 64, "temperature": 0, "messages": [{"role": "user", "content": SIMPLE}]},
        DEFAULT_SELF_ASSESSMENT_PROMPT,
    )
    r = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=120)
    choice = r.json()["choices"][0]
    content, confidence = parse_self_assessment(choice["message"]["content"], choice["finish_reason"] == "length")
    assert content is not None and confidence is not None and 0 <= confidence <= 1


@pytest.mark.parametrize("threshold,tier", [(0.0, "small"), (1.01, "large")])
def test_streaming_with_cascade(client, threshold, tier):
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": SIMPLE}],
        max_tokens=12,
        temperature=0,
        stream=True,
        extra_body=cascade(threshold=threshold),
    )
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert raw.headers[H.TIER] == tier and text.strip()


@pytest.mark.parametrize("method", ["min_prob", "first_prob", "calibrated"])
def test_measured_methods_judge_the_real_engines_logprobs(client, method):
    from serve_app.cascade.methods import answer_confidence
    from serve_app.cascade.policy import CascadePolicy

    reply, headers = chat(
        client, SIMPLE, extra_body=cascade(method=method, threshold=0.0), logprobs=True, top_logprobs=2
    )
    assert headers[H.CONFIDENCE_METHOD] == method and headers[H.ESCALATED] == "no"
    expected = answer_confidence(method, reply.choices[0].logprobs.model_dump(), CascadePolicy())
    assert expected is not None and float(headers[H.CONFIDENCE]) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("threshold,decision", [(0.0, "commit"), (1.01, "abort")])
def test_prefix_streaming_on_real_engines(client, threshold, decision):
    """Prefix mode on vLLM: running usage accounts for an abandoned prefix, requested logprobs reach
    the client, and the final usage chunk carries the verdict."""
    chunks = list(
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": SIMPLE}],
            max_tokens=24,
            temperature=0,
            stream=True,
            logprobs=True,
            top_logprobs=1,
            stream_options={"include_usage": True},
            extra_body=cascade(threshold=threshold, streaming="prefix", prefix_tokens=4),
        )
    )
    verdict = chunks[-1].model_extra["tier_router"]
    assert verdict["prefix"]["decision"] == decision and verdict["prefix"]["tokens"] == 4
    tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert len(tokens) == chunks[-1].usage.completion_tokens and all(len(t.top_logprobs) == 1 for t in tokens)
    small = verdict["attempts"][0]
    assert small["tier"] == "small" and small["usage"]["prompt_tokens"] > 0
    if decision == "abort":
        assert small["discarded"] and 4 <= small["usage"]["completion_tokens"] < 24
        assert verdict["attempts"][1]["usage"]["completion_tokens"] == chunks[-1].usage.completion_tokens
    else:
        assert "late_check" in verdict and small["usage"]["completion_tokens"] == chunks[-1].usage.completion_tokens
