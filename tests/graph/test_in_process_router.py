"""`router.placement: in_process`: no router deployment; the ingress scores prompts itself (echo tiers)."""

import httpx
import pytest
from ray import serve

from serve_app import headers as H
from serve_app.graph import replica_states
from serve_app.graph.builder import INGRESS_NAME, ROUTER_NAME
from serve_app.readiness import DeploymentState
from tests.graph.conftest import deployed, openai_client
from tests.graph.test_echo_graph import echo_args

PREFIX = "/inproc"
APP = "inproc"


@pytest.fixture(scope="module")
def base_url(serve_port):
    args = echo_args()
    args["router"]["placement"] = "in_process"
    with deployed(args, APP, PREFIX, serve_port) as url:
        yield url


def test_readiness_snapshot_matches_serve_status(base_url):
    """The poll's cheap read of the controller's details agrees with the public `serve.status()`."""
    names = {"small": "Tier:small", "large": "Tier:large", "ingress": INGRESS_NAME, "router": ROUTER_NAME}
    cheap = replica_states.fetch_states(APP, names)
    assert cheap == replica_states._states_from_status(APP, names)
    assert cheap["small"] == DeploymentState("HEALTHY", 1) and cheap["router"] is None


def test_in_process_router_routes_without_a_router_deployment(base_url):
    deployments = serve.status().applications[APP].deployments
    assert ROUTER_NAME not in deployments and INGRESS_NAME in deployments
    client = openai_client(base_url, 30)
    simple = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is Python?"}]
    )
    assert simple.headers[H.TIER] == "small" and float(simple.headers[H.SCORE]) < 4.0
    assert simple.headers[H.ROUTE_REASON] == "routed"
    hard = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Refactor this recursive algorithm to iterative with O(1) space"}],
    )
    assert hard.headers[H.TIER] == "large" and float(hard.headers[H.SCORE]) > 4.0
    again = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is Python?"}]
    )
    assert again.headers[H.CACHED] == "1" and again.headers[H.SCORE] == simple.headers[H.SCORE]


def test_in_process_router_health(base_url):
    reply = httpx.get(f"{base_url}/health", timeout=30)
    body = reply.json()  # readiness: Serve's replica states; the router lives inside the ingress
    assert reply.status_code == 200 and body["status"] == "ok", body
    assert "router" not in body["deployments"] and body["deployments"]["small"] == "ok"
