"""Kill a tier replica under concurrent load (real local graph, echo tiers whose engine takes 15 s
to start, as a restarting vLLM replica does, only shorter): no request waits more than ~10 s
longer than normal, `auto` requests are answered by the other tier meanwhile, direct requests to
the dead tier get a prompt 503 with Retry-After, and the tier is used again once it is back."""

import concurrent.futures
import threading
import time

import httpx
import pytest

from serve_app import headers as H
from tests.graph.conftest import deployed
from tests.graph.test_hardening_graph import hard_args

PROMPTS = {"small": "What is Python?", "large": "Refactor this recursive algorithm to iterative with O(1) space"}
START_DELAY_S = 15
OUTAGE_LIMIT_S = 90


def fault_args() -> dict:
    args = hard_args()
    for tier in args["tiers"].values():
        tier.update(
            max_ongoing_requests=16,
            max_queued_requests=16,
            env_vars={"TIER_ROUTER_ECHO_START_DELAY_S": str(START_DELAY_S)},
        )
    return args


@pytest.fixture(scope="module")
def base_url(serve_port):
    with deployed(fault_args(), "fault", "/fault", serve_port) as url:
        yield url


def kill_replica(app: str, tier: str) -> None:
    import ray

    prefix = f"SERVE_REPLICA::{app}#Tier:{tier}#"
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)]
    assert names, f"no replica of {tier}"
    for name in names:
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)


def ask(base_url, model: str, text: str):
    start = time.monotonic()
    body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": text}]}
    try:
        r = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=60)
        return (
            start,
            time.monotonic() - start,
            r.status_code,
            r.headers.get(H.TIER),
            r.headers.get(H.DEGRADED),
            r.headers.get("retry-after"),
        )
    except httpx.HTTPError as exc:
        return start, time.monotonic() - start, type(exc).__name__, None, None, None


def load(base_url, model, text, stop: threading.Event, out: list, pause_s=0.2):
    while not stop.is_set():
        out.append(ask(base_url, model, text))
        time.sleep(pause_s)


@pytest.mark.parametrize("tier", ["small", "large"])
def test_killed_replica_fails_over_within_seconds(base_url, tier):
    other = "large" if tier == "small" else "small"
    normal = max(ask(base_url, "auto", PROMPTS[tier])[1] for _ in range(3))
    assert ask(base_url, "auto", PROMPTS[tier])[3] == tier
    stop, auto, direct = threading.Event(), [], []
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        workers = [pool.submit(load, base_url, "auto", PROMPTS[tier], stop, auto) for _ in range(4)]
        workers.append(pool.submit(load, base_url, tier, PROMPTS[tier], stop, direct, 1.0))
        time.sleep(1.0)
        killed_at = time.monotonic()
        kill_replica("fault", tier)
        recovered_at = None
        while time.monotonic() - killed_at < OUTAGE_LIMIT_S:
            time.sleep(1.0)
            after = [d for d in direct if d[0] > killed_at]
            if any(d[2] != 200 for d in after) and after and after[-1][2] == 200:
                recovered_at = after[-1][0]
                break
        time.sleep(3.0)  # traffic after recovery
        stop.set()
        for w in workers:
            w.result()
    during = [a for a in auto if killed_at <= a[0] and (recovered_at is None or a[0] < recovered_at)]
    failed_direct = [d for d in direct if d[0] > killed_at and d[2] != 200]
    longest = max(a[1] for a in auto)
    print(
        f"\nkill {tier}: normal {normal:.2f}s, longest auto wait {longest:.2f}s, {len(during)} auto during "
        f"the outage ({sum(a[3] == other for a in during)} by {other}), direct {tier}: {len(failed_direct)} "
        f"503s, slowest {max((d[1] for d in failed_direct), default=0):.2f}s, back after "
        f"{(recovered_at or 0) - killed_at:.1f}s"
    )
    assert recovered_at is not None, "the tier never came back"
    assert all(a[2] == 200 for a in auto), [a for a in auto if a[2] != 200][:5]
    assert longest <= normal + 10.0
    assert any(a[3] == other and a[4] == f"{tier}-down" for a in during)
    assert failed_direct and all(d[2] == 503 and d[5] for d in failed_direct)
    assert max(d[1] for d in failed_direct) <= 10.0
    last = [a for a in auto if a[0] > recovered_at + 2.0]
    assert last and last[-1][3] == tier
