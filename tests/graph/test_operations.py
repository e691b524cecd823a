"""Operating the graph (echo tiers): Prometheus metrics, the escalation alarm, shadow A/B and
per-tier autoscaling, observed from outside like an operator would."""

import json
import time

import httpx
import pytest

from serve_app import headers as H
from serve_app.cli import main as cli
from tests.graph.conftest import deploy

PREFIX = "/ops"


def ops_args(tmp_path, alarm_ceiling=0.3):
    tier = {"engine": "echo", "model_source": "echo", "engine_kwargs": {"max_model_len": 500}}
    small = {
        **tier,
        "autoscaling": {
            "min_replicas": 1,
            "max_replicas": 2,
            "target_ongoing_requests": 1,
            "upscale_delay_s": 0,
            "downscale_delay_s": 2,
            "look_back_period_s": 11,
        },
    }
    return {
        "router": {"policy": {"threshold": 4.0}},
        "ingress": {
            "alarm": {"large_share_ceiling": alarm_ceiling, "window_s": 600, "min_requests": 5},
            "shadow": {
                "sample_rate": 1.0,
                "max_in_flight": 4,
                "store_prompts": True,
                "store_path": str(tmp_path / "pairs.sqlite"),
            },
            "costs": {
                "small": {"usd_per_gpu_hour": 2.24, "requests_per_s": 8},
                "large": {"usd_per_gpu_hour": 2.62, "gpus": 4, "requests_per_s": 2},
            },
        },
        "tiers": {"small": small, "large": tier},
    }


@pytest.fixture(scope="module")
def ops(serve_port, tmp_path_factory):
    from ray import serve

    tmp = tmp_path_factory.mktemp("ops")
    deploy(ops_args(tmp), "ops", PREFIX)
    yield f"http://127.0.0.1:{serve_port}{PREFIX}", tmp
    serve.delete("ops")


def chat(url, content, model="auto", **extra):
    r = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=60,
        json={"model": model, "messages": [{"role": "user", "content": content}], **extra},
    )
    assert r.status_code == 200, r.text
    return r


def metrics_text() -> str:
    import ray

    port = ray._private.worker.global_worker.node.metrics_export_port
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text


def wait_for(predicate, timeout_s=60, every_s=1.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    return predicate()


def test_metrics_reach_prometheus_with_labels(ops):
    url, _ = ops
    for i in range(3):
        chat(url, f"How do I reset my password? ({i}) __echo_conf_0.95__")
    chat(url, "Design a distributed rate limiter across data centers")
    chat(url, "What is Python? __echo_conf_0.1__")  # escalated
    chat(url, "hi", model="large")  # direct
    chat(url, "How do I reset my password? (0) __echo_conf_0.95__")  # a router cache hit
    chat(url, "What is Python? __echo_conf_0.95__", stream=True)  # judged on a prefix and kept

    # exact exported names: the alert rules and the Grafana board query these
    needles = (
        "ray_tier_router_requests_total{",
        'reason="routed"',
        'reason="direct"',
        'reason="escalated"',
        "ray_tier_router_tokens_total{",
        'kind="completion"',
        "ray_tier_router_complexity_score_bucket{",
        "ray_tier_router_route_latency_seconds_bucket{",
        "ray_tier_router_cache_hit_ratio{",
        "ray_tier_router_request_latency_seconds_bucket{",
        "ray_tier_router_cost_usd_total{",
        "ray_tier_router_savings_usd_total{",
        "ray_tier_router_large_share{",
        "ray_tier_router_escalation_rate{",
        "ray_tier_router_shadow_calls_total{",
        "ray_tier_router_prefix_decisions_total{",
        'decision="commit"',
        "ray_tier_router_prefix_tokens_bucket{",
    )

    def missing():
        text = metrics_text()
        return [n for n in needles if n not in text]

    # replicas export on their own schedule: wait until every metric has arrived
    assert wait_for(lambda: not missing(), timeout_s=120, every_s=2) or not missing(), missing()


def test_alarm_fires_on_forced_escalation_and_not_on_normal_traffic(serve_port, tmp_path):
    from ray import serve

    url = f"http://127.0.0.1:{serve_port}/alarm"
    deploy(ops_args(tmp_path, alarm_ceiling=0.3), "alarm", "/alarm")
    try:
        for i in range(6):  # confident small answers: 0% large
            chat(url, f"Where is my package? {i} __echo_conf_0.99__")

        def alarm_lines() -> list[str]:  # this application's gauge (another app's may be exported first)
            return [
                line
                for line in metrics_text().splitlines()
                if line.startswith("ray_tier_router_large_share_alarm{") and 'application="alarm"' in line
            ]

        assert wait_for(alarm_lines, 60)
        quiet = alarm_lines()
        assert quiet and all(line.rstrip().endswith(" 0.0") for line in quiet)
        for i in range(10):  # force escalations: everything reaches large
            r = chat(url, f"Where is my package? {i} __echo_conf_0.01__")
            assert r.headers[H.ESCALATED] == "yes"

        def raised():
            return [line for line in alarm_lines() if line.rstrip().endswith(" 1.0")]

        assert wait_for(raised, 60)
    finally:
        serve.delete("alarm")


def test_shadow_pairs_do_not_change_answers_and_export_to_eval(ops, tmp_path):
    url, store_dir = ops
    prompts = [f"How do I update billing info for account {i}? __echo_conf_0.99__" for i in range(12)]
    for p in prompts:
        r = chat(url, p)
        assert r.json()["choices"][0]["message"]["content"] == f"[small] {p}"  # the client's answer
        assert r.headers[H.TIER] == "small"
    out = tmp_path / "pairs.jsonl"

    def exported():
        return cli(
            ["shadow-export", str(store_dir / "pairs.sqlite"), "--out", str(out), "--label", "agreement"]
        ) == 0 and len(out.read_text().splitlines()) >= len(prompts)

    assert wait_for(exported, 30)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(0 < r["scores"]["small"] < 1 and r["scores"]["large"] == 1.0 for r in rows)
    assert (
        cli(
            [
                "eval",
                f"{out},small,large",
                "--learned",
                "knn",
                "--folds",
                "3",
                "--quiet",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    assert (tmp_path / "eval").exists()


def test_a_burst_scales_the_small_tier_up_and_back_down(ops):
    from concurrent.futures import ThreadPoolExecutor

    from ray import serve

    url, _ = ops

    def replicas():
        status = serve.status().applications["ops"].deployments["Tier:small"]
        return sum(n for state, n in status.replica_states.items() if str(state).endswith("RUNNING"))

    assert replicas() == 1
    body = {"model": "small", "messages": [{"role": "user", "content": "__echo_sleep_2__ slow"}]}
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(httpx.post, f"{url}/v1/chat/completions", json=body, timeout=120) for _ in range(64)]
        assert wait_for(lambda: replicas() == 2, timeout_s=60, every_s=0.5), "burst did not add a replica"
        assert all(f.result().status_code == 200 for f in futures)
    assert wait_for(lambda: replicas() == 1, timeout_s=90), "replicas did not come back down"
