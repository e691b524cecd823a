"""Over a real local graph (echo tiers): ingress overload is answered by the ingress itself (JSON
503 + Retry-After within seconds, /health still 200), and every response carries exactly one
`x-request-id`, the id the ingress's logs and 500 bodies name (the client's own when it sent one)."""

import concurrent.futures
import time
import uuid
from pathlib import Path

import httpx
import pytest

from serve_app import headers as H
from tests.graph.conftest import deployed
from tests.graph.test_hardening_graph import hard_args

IN_FLIGHT = 4
CHAT = "/v1/chat/completions"


def admission_args() -> dict:
    args = hard_args(limits={"body_read_timeout_s": 2, "max_in_flight": IN_FLIGHT})
    for tier in args["tiers"].values():  # the tiers could take all of it: only the ingress sheds
        tier.update(max_ongoing_requests=32, max_queued_requests=32)
    return args


@pytest.fixture(scope="module")
def base_url(serve_port):
    with deployed(admission_args(), "admit", "/admit", serve_port) as url:
        yield url


def chat(base_url, text="hi", model="small", headers=None, timeout=30):
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    start = time.monotonic()
    response = httpx.post(f"{base_url}{CHAT}", json=body, headers=headers or {}, timeout=timeout)
    return response, time.monotonic() - start


def test_overload_is_the_ingress_json_503_with_retry_after(base_url):
    n = 12
    assert httpx.get(f"{base_url}/health", timeout=60).status_code == 200  # probed before, as a balancer does
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(chat, base_url, "__echo_sleep_4__", "large") for _ in range(n)]
        time.sleep(1.5)
        polls = [httpx.get(f"{base_url}/health", timeout=15) for _ in range(3)]
        results = [f.result() for f in futures]
    shed = [(r, s) for r, s in results if r.status_code == 503]
    served = [(r, s) for r, s in results if r.status_code == 200]
    print(
        f"\ningress overload ({n} concurrent, max_in_flight {IN_FLIGHT}): {len(served)} served, {len(shed)} JSON 503 "
        f"+ Retry-After, slowest 503 after {max(s for _, s in shed):.2f}s; /health {[p.status_code for p in polls]}"
    )
    assert len(served) + len(shed) == n and 1 <= len(served) <= IN_FLIGHT
    for response, seconds in shed:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "overloaded" and int(response.headers["retry-after"]) >= 1
        # At once: the first requests of a fresh replica once waited ~8 s here behind the request
        # model's import (now done at start-up), which this module's fresh app would show.
        assert seconds < 3.0
        assert len(response.headers.get_list(H.REQUEST_ID)) == 1
    assert all(p.status_code == 200 for p in polls), [p.text for p in polls]
    assert chat(base_url)[0].status_code == 200  # slots come back


def test_one_request_id_header_and_a_client_id_is_kept(base_url):
    response, _ = chat(base_url)
    ids = response.headers.get_list(H.REQUEST_ID)
    assert response.status_code == 200 and len(ids) == 1 and ids[0]
    mine = f"trace-{uuid.uuid4().hex}"
    response, _ = chat(base_url, headers={H.REQUEST_ID: mine})
    assert response.headers.get_list(H.REQUEST_ID) == [mine]
    missing = httpx.post(f"{base_url}{CHAT}", content=b"{", timeout=10)  # a 400 from the ingress
    assert missing.status_code == 400 and len(missing.headers.get_list(H.REQUEST_ID)) == 1


def _logs_dir() -> Path:
    import ray

    return Path(ray._private.worker._global_node.get_logs_dir_path())  # no public accessor in Ray 2.60


def _logged(needle: str, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in _logs_dir().rglob("*"):
            if path.is_file() and needle in path.read_text(errors="replace"):
                return True
        time.sleep(1)
    return False


def test_a_500_names_the_id_the_client_sees_and_the_log_says(serve_port, monkeypatch):
    from serve_app.graph import ingress
    from tests.graph.bug_injection import BuggyIngress

    monkeypatch.setattr(ingress, "TierRouterIngress", BuggyIngress)  # what build_app binds
    with deployed(admission_args(), "buggy", "/buggy", serve_port) as url:
        for sent in ({}, {H.REQUEST_ID: f"client-{uuid.uuid4().hex}"}):
            response, _ = chat(url, headers=sent)
            ids = response.headers.get_list(H.REQUEST_ID)
            assert response.status_code == 500 and len(ids) == 1, (response.status_code, ids)
            if sent:
                assert ids == [sent[H.REQUEST_ID]]
            assert response.json()["error"]["message"] == f"Internal error (request id {ids[0]})."
            assert _logged(f"request {ids[0]} failed: RuntimeError (bug)")
            assert "bug injected" not in response.text
