"""The real graph (Ray Serve, MiniLM router, LLMServer tiers, FastAPI ingress) with echo engines:
fast checks of routing, protocol, headers and every error path over HTTP."""

import concurrent.futures
import json

import httpx
import openai
import pytest

from serve_app import headers as H
from tests.graph.conftest import deploy, deployed, openai_client

PREFIX = "/echo"


def echo_args(threshold: float = 4.0) -> dict:
    tier = {"engine": "echo", "model_source": "echo", "engine_kwargs": {"max_model_len": 200}}
    return {
        "router": {"policy": {"threshold": threshold}},
        # These tests provoke tier failures on purpose; the breaker (test_hardening_graph) must not
        # open on them and fail later requests over to the other tier.
        "ingress": {"request_timeout_s": 3, "stream_idle_timeout_s": 3, "breaker": {"failure_threshold": 1000}},
        "tiers": {"small": tier, "large": tier},
    }


@pytest.fixture(scope="module")
def base_url(serve_port):
    with deployed(echo_args(), "echo", PREFIX, serve_port) as url:
        yield url


@pytest.fixture
def client(base_url):
    return openai_client(base_url, 30)


def ask(client, text, model="auto", **kw):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], **kw
    )
    return raw.parse(), raw.headers


def test_auto_routes_with_evidence_headers(client):
    reply, headers = ask(client, "What is Python?")
    assert reply.choices[0].message.content == "[small] What is Python?"
    assert headers[H.TIER] == "small" and headers[H.STRATEGY] == "exemplar"
    assert float(headers[H.SCORE]) < 4.0
    reply, headers = ask(client, "Refactor this recursive algorithm to iterative with O(1) space")
    assert reply.model == "large" and headers[H.TIER] == "large"
    assert float(headers[H.SCORE]) > 4.0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_repeated_prompt_is_served_from_cache(client):
    _, first = ask(client, "How do I update my billing information?")
    _, second = ask(client, "How do I update my billing information?")
    assert second[H.CACHED] == "1" and first[H.SCORE] == second[H.SCORE]


@pytest.mark.parametrize("model", ["small", "large"])
def test_named_tiers_go_direct(client, model):
    reply, headers = ask(client, "Design a distributed database", model=model)
    assert reply.model == model and headers[H.TIER] == model and headers[H.STRATEGY] == "direct"


def test_streaming_with_openai_client(client):
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "[small] hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_stream_is_sse_ending_with_done(base_url):
    with httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        timeout=30,
        json={"model": "large", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers[H.TIER] == "large"
        body = r.read().decode()
    frames = [f for f in body.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert all(f.startswith("data: ") for f in frames)
    # no usage chunk unless the client asked for one
    assert all(json.loads(f[6:])["choices"] for f in frames[:-1])


def test_models_and_health(client, base_url):
    assert [m.id for m in client.models.list()] == ["auto", "small", "large"]
    health = httpx.get(f"{base_url}/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "deployments": {"router": "ok", "small": "ok", "large": "ok"}}


def _post(base_url, content, **kw):
    return httpx.post(f"{base_url}/v1/chat/completions", content=content, timeout=30, **kw)


@pytest.mark.parametrize(
    "payload,status",
    [
        (b"{not json", 400),
        (b"", 400),
        (json.dumps({"model": "auto"}).encode(), 400),
        (json.dumps({"model": "auto", "messages": []}).encode(), 400),
        (json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}).encode(), 404),
        (
            json.dumps(
                {"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}
            ).encode(),
            400,
        ),
        (json.dumps({"model": "small", "messages": [{"role": "user", "content": "word " * 300}]}).encode(), 400),
    ],
)
def test_client_errors_are_openai_errors(base_url, payload, status):
    r = _post(base_url, payload, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["message"] and "type" in error


def test_openai_client_sees_typed_errors(client):
    with pytest.raises(openai.NotFoundError):
        ask(client, "x", model="gpt-4o")
    with pytest.raises(openai.BadRequestError, match="context length"):
        ask(client, "word " * 300, model="small")


def test_tier_failure_is_503_with_routing_evidence(base_url):
    r = _post(base_url, json.dumps({"model": "auto", "messages": [{"role": "user", "content": "__echo_fail__"}]}))
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "service_unavailable"
    assert r.headers[H.TIER] in ("small", "large")


def test_tier_timeout_is_503_not_a_hang(base_url):
    r = _post(base_url, json.dumps({"model": "large", "messages": [{"role": "user", "content": "__echo_sleep_10__"}]}))
    assert r.status_code == 503
    assert "no answer within 3s" in r.json()["error"]["message"]


def test_unknown_route_is_json_404(base_url):
    r = httpx.get(f"{base_url}/v1/nothing")
    assert r.status_code == 404 and "error" in r.json()


def test_concurrent_requests_all_answered(base_url):
    prompts = [f"question number {i}: what is {i} plus {i}?" for i in range(24)]

    def one(p):
        r = _post(base_url, json.dumps({"model": "auto", "messages": [{"role": "user", "content": p}]}))
        return r.status_code, r.json()["choices"][0]["message"]["content"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, prompts))
    assert all(status == 200 for status, _ in results)
    assert [c.split("] ", 1)[1] for _, c in results] == prompts


def test_threshold_is_live_tunable(base_url, client):
    prompt = "Explain what a hash map is"
    _, before = ask(client, prompt)
    deploy(echo_args(threshold=0.0), "echo", PREFIX)  # only user_config changes: reconfigure()
    _, after = ask(client, prompt)
    deploy(echo_args(threshold=4.0), "echo", PREFIX)
    assert after[H.THRESHOLD] == "0" and after[H.TIER] == "large"
    assert before[H.THRESHOLD] == "4"


# --- confidence escalation over the real graph (echo engines express a scripted confidence) ----


def test_confident_small_answer_is_kept(client):
    reply, headers = ask(client, "What is Python? __echo_conf_0.95__")
    assert headers[H.TIER] == "small" and headers[H.ESCALATED] == "no"
    assert float(headers[H.CONFIDENCE]) == pytest.approx(0.95, abs=1e-3)
    assert reply.choices[0].logprobs is None  # judged with logprobs, not leaked
    assert reply.model_extra["tier_router"]["escalated"] is False


def test_doubtful_small_answer_escalates(client):
    reply, headers = ask(client, "What is Python? __echo_conf_0.2__")
    assert headers[H.ESCALATED] == "yes" and headers[H.TIER] == "large"
    assert headers[H.TIERS_USED] == "small,large"
    assert reply.choices[0].message.content.startswith("[large]")
    attempts = reply.model_extra["tier_router"]["attempts"]
    assert attempts[0]["tier"] == "small" and attempts[0]["discarded"] and attempts[0]["usage"]["total_tokens"] > 0


def test_self_assessment_unwraps_the_json(client):
    reply, headers = ask(
        client,
        "What is Python? __echo_conf_0.8__",
        extra_body={"tier_router": {"cascade": {"method": "self_assessment"}}},
    )
    assert headers[H.CONFIDENCE_METHOD] == "self_assessment" and headers[H.ESCALATED] == "no"
    assert reply.choices[0].message.content == "[small] What is Python? __echo_conf_0.8__"


@pytest.mark.parametrize("streaming", ["buffered", "prefix"])
def test_streaming_replay_and_streaming_escalation(client, streaming):
    for conf, tier in (("0.95", "small"), ("0.2", "large")):
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            stream=True,
            messages=[{"role": "user", "content": f"What is Python? __echo_conf_{conf}__"}],
            extra_body={"tier_router": {"cascade": {"streaming": streaming}}},
        )
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        assert raw.headers[H.TIER] == tier
        assert text == f"[{tier}] What is Python? __echo_conf_{conf}__"


def test_prefix_stream_carries_logprobs_usage_and_the_final_verdict(base_url):
    """Prefix mode over HTTP: requested logprobs reach the client, the usage chunk and a trailing SSE
    comment carry the verdict, and an escalated stream shows only the large answer."""
    for conf, escalated in (("0.95", False), ("0.2", True)):
        payload = {
            "model": "auto",
            "stream": True,
            "logprobs": True,
            "top_logprobs": 1,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": f"What is Python? __echo_conf_{conf}__"}],
            "tier_router": {"cascade": {"streaming": "prefix", "prefix_tokens": 3}},
        }
        with httpx.stream("POST", base_url + "/v1/chat/completions", json=payload, timeout=30) as response:
            lines = [line for line in response.iter_lines() if line]
            headers = response.headers
        assert headers[H.ESCALATED] == ("yes" if escalated else "no") and headers[H.TIERS_USED].startswith("small")
        chunks = [json.loads(line[6:]) for line in lines if line.startswith("data: {")]
        comment = [json.loads(line[len(": tier_router ") :]) for line in lines if line.startswith(": tier_router ")]
        usage = [c for c in chunks if c["choices"] == []]
        content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
        tokens = [
            t
            for c in chunks
            if c["choices"] and c["choices"][0].get("logprobs")
            for t in c["choices"][0]["logprobs"]["content"]
        ]
        assert lines[-1] == "data: [DONE]" and len(comment) == 1 and len(usage) == 1
        assert usage[0]["tier_router"] == comment[0] and comment[0]["escalated"] is escalated
        assert content.startswith("[large]" if escalated else "[small]")
        assert len(tokens) == usage[0]["usage"]["completion_tokens"]
        assert all(len(t["top_logprobs"]) == 1 for t in tokens)
        assert comment[0]["prefix"]["decision"] == ("abort" if escalated else "commit")
        small = comment[0]["attempts"][0]
        assert small["tier"] == "small" and small["usage"]["completion_tokens"] >= 3


def test_cascade_policy_is_live_tunable(client):
    args = echo_args()
    args["ingress"]["cascade"] = {"mode": "route_only"}
    deploy(args, "echo", PREFIX)  # only the ingress user_config changes: reconfigure()
    _, headers = ask(client, "What is Python? __echo_conf_0.2__")
    deploy(echo_args(), "echo", PREFIX)
    assert headers[H.TIER] == "small" and H.ESCALATED not in headers


def test_trained_artifact_loads_into_the_running_router(client, tmp_path):
    """Train a learned router with the CLI, then switch the live router to it (user_config only)."""
    from serve_app.cli import main as cli
    from tests.conftest import SHARED_DATA

    data = SHARED_DATA / "routellm_mtbench.jsonl"
    if not data.exists():
        pytest.skip("../shared/data is not beside the project")
    artifact = tmp_path / "logistic.npz"
    spec = f"{data},mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview"
    assert cli(["train", spec, "--kind", "logistic", "--out", str(artifact), "--no-report", "--quiet"]) == 0
    args = echo_args(threshold=5.0)
    args["router"]["policy"]["strategy"] = {"name": "logistic", "artifact": str(artifact)}
    deploy(args, "echo", PREFIX)
    try:
        _, headers = ask(client, "Prove that the square root of two is irrational, step by step.")
    finally:
        deploy(echo_args(), "echo", PREFIX)
    assert headers[H.STRATEGY] == "logistic"
    assert 0.0 <= float(headers[H.SCORE]) <= 10.0
