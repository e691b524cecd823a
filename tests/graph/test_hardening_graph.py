"""Hardening over a real local graph (echo tiers): fuzzed and named client mistakes are 4xx JSON,
bodies are bounded, /health is readiness that stays 200 while busy, overload is a quick 503 with
Retry-After, a hung tier opens its breaker, and a killed tier replica fails `auto` traffic over
within seconds."""

import concurrent.futures
import json
import socket
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from serve_app import headers as H
from tests.graph.conftest import deployed
from tests.unit.test_client_mistakes import NAMED_MISTAKES
from tests.unit.test_fuzz_chat_flow import bodies, encode

PREFIX = "/hard"


def hard_args(**ingress) -> dict:
    tier = {
        "engine": "echo",
        "model_source": "echo",
        "engine_kwargs": {"max_model_len": 200},
        "max_ongoing_requests": 4,
        "max_queued_requests": 4,
    }
    return {
        "router": {"policy": {"threshold": 4.0}},
        "ingress": {
            "request_timeout_s": 10,
            "stream_idle_timeout_s": 5,
            "assign_timeout_s": 2,
            "readiness_poll_s": 1,
            "breaker": {"failure_threshold": 2, "open_s": 3},
            "limits": {"body_read_timeout_s": 2},
            **ingress,
        },
        "tiers": {"small": dict(tier), "large": dict(tier)},
    }


@pytest.fixture(scope="module")
def base_url(serve_port):
    with deployed(hard_args(), "hard", PREFIX, serve_port) as url:
        yield url


def post(base_url, content: bytes, timeout=30, **kw):
    return httpx.post(
        f"{base_url}/v1/chat/completions",
        content=content,
        timeout=timeout,
        headers={"content-type": "application/json"},
        **kw,
    )


def assert_completion_or_4xx(response) -> None:
    if response.status_code == 200:
        if response.headers["content-type"].startswith("text/event-stream"):
            assert response.text.rstrip().endswith("data: [DONE]")
        else:
            assert response.json()["choices"][0]["message"]["content"] is not None
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert response.headers[H.REQUEST_ID]


@pytest.mark.parametrize("name", list(NAMED_MISTAKES))
def test_named_client_mistakes_over_http(base_url, name):
    assert_completion_or_4xx(post(base_url, NAMED_MISTAKES[name]))
    assert post(base_url, NAMED_MISTAKES[name]).status_code != 200


FUZZED = {"requests": 0, "5xx": 0}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies)
def test_http_fuzz_answers_completion_or_4xx(base_url, body):
    raw = encode(body)
    if b"__echo_" in raw:
        return
    response = post(base_url, raw)
    FUZZED["requests"] += 1
    FUZZED["5xx"] += response.status_code >= 500
    assert_completion_or_4xx(response)


def test_http_fuzz_tally():
    print(f"\nHTTP fuzz: {FUZZED['requests']} requests, {FUZZED['5xx']} answered 5xx")
    assert FUZZED["5xx"] == 0


def _raw_request(base_url: str, head: str, body: bytes) -> tuple[str, float]:
    """Send a request by hand (a declared length the body may not match); the reply and its time."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    start = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(f"POST {PREFIX}/v1/chat/completions HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        reply = _read_reply(sock)
    return reply, time.monotonic() - start


def _read_reply(sock: socket.socket) -> str:
    """Headers and the whole body (one recv may return only the headers)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _content_length(data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _content_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def test_body_over_limit_is_413_before_it_is_read(base_url):
    reply, _ = _raw_request(base_url, "Content-Type: application/json\r\nContent-Length: 2000000\r\n", b"{")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert "payload_too_large" in reply


def test_body_shorter_than_content_length_is_408_not_a_hang(base_url):
    reply, elapsed = _raw_request(base_url, "Content-Type: application/json\r\nContent-Length: 500\r\n", b'{"model": ')
    assert reply.startswith("HTTP/1.1 408"), reply[:200]
    assert elapsed < 8


def test_model_retrieve_and_liveness(base_url):
    import openai

    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
    assert client.models.retrieve("auto").id == "auto"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")
    assert httpx.get(f"{base_url}/health/live").json() == {"status": "ok"}


def test_response_ids_are_unique_even_with_client_request_id(base_url):
    body = {"model": "small", "messages": [{"role": "user", "content": "hi"}], "request_id": "same"}
    ids = {post(base_url, json.dumps(body).encode()).json()["id"] for _ in range(3)}
    assert len(ids) == 3 and not any("same" in i for i in ids)


def _busy(base_url, n: int, seconds: float, model="large"):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": f"__echo_sleep_{seconds}__"}]})

    def one(_):
        start = time.monotonic()
        response = post(base_url, body.encode())
        return response.status_code, response.headers.get("retry-after"), time.monotonic() - start

    pool = concurrent.futures.ThreadPoolExecutor(n)
    return pool, [pool.submit(one, i) for i in range(n)]


def test_health_stays_200_while_busy_and_overload_is_a_quick_503(base_url):
    pool, futures = _busy(base_url, 16, 4.0)  # capacity: 4 running + 4 queued on the large tier
    time.sleep(1.0)
    polls = [httpx.get(f"{base_url}/health", timeout=5) for _ in range(5)]
    results = [f.result() for f in futures]
    pool.shutdown()
    assert all(p.status_code == 200 for p in polls), [p.text for p in polls]
    shed = [r for r in results if r[0] == 503]
    assert shed and all(r[1] is not None and int(r[1]) >= 1 for r in shed)
    assert max(r[2] for r in shed) < 3.0, shed  # shed at once (queue full) or at the 2 s assignment deadline
    assert any(r[0] == 200 for r in results)
    print(
        f"\noverload: {len(shed)}/16 got 503 + Retry-After, slowest after {max(r[2] for r in shed):.2f}s; "
        f"/health {[p.status_code for p in polls]}"
    )


def test_hung_tier_opens_its_breaker_and_auto_fails_over(base_url):
    """A tier that takes requests and never answers in time (the echo engine sleeping past the 10 s
    request deadline, which equals the tier's own timeout) counts as failed: two such requests open
    its breaker (failure_threshold 2), so `auto` traffic goes to the other tier, marked degraded."""

    def chat(model: str, text: str) -> bytes:
        return json.dumps({"model": model, "messages": [{"role": "user", "content": text}]}).encode()

    hard_prompt = "Refactor this recursive algorithm to iterative with O(1) space"  # routed to large
    for _ in range(2):
        hung = post(base_url, chat("large", "__echo_sleep_30__"))
        assert hung.status_code == 503 and "retry-after" not in hung.headers
        assert hung.json()["error"]["message"].endswith("no answer within 10s (request deadline)")
    auto = post(base_url, chat("auto", hard_prompt))
    assert auto.status_code == 200, auto.text[:300]
    assert auto.headers[H.TIER] == "small" and auto.headers[H.DEGRADED] == "large-down"
    direct = post(base_url, chat("large", "hi"))
    assert direct.status_code == 503 and int(direct.headers["retry-after"]) >= 1
    time.sleep(3.5)  # open_s 3: one probe is let through, and its success closes the breaker
    assert post(base_url, chat("large", "hi")).status_code == 200
    assert post(base_url, chat("auto", hard_prompt)).headers[H.TIER] == "large"


def test_api_keys_and_per_key_rate_limit(serve_port, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# test keys\nkey-one\nkey-two\n")
    # One token per 100 s: a slow first request cannot refill the bucket before the third call.
    args = hard_args(auth={"keys_file": str(keys), "rate_limit": {"requests_per_s": 0.01, "burst": 2}})
    with deployed(args, "keyed", "/keyed", serve_port) as url:
        chat = {"model": "small", "messages": [{"role": "user", "content": "hi"}]}

        def call(key=None):
            headers = {"authorization": f"Bearer {key}"} if key else {}
            return httpx.post(f"{url}/v1/chat/completions", json=chat, headers=headers, timeout=30)

        missing, wrong = call(), call("nope")
        assert missing.status_code == wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "invalid_api_key" and "nope" not in wrong.text
        assert httpx.get(f"{url}/v1/models", timeout=10).status_code == 401
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200  # probes need no key
        assert [call("key-one").status_code for _ in range(2)] == [200, 200]
        limited = call("key-one")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert call("key-two").status_code == 200  # its own bucket
