"""Kill one tier replica under `auto` load and print how long clients waited.

Runs against a graph that is already serving (the README's run command, `scripts/serve.sh`), from a
shell that can reach its Ray head (`source scripts/ray_env.sh` for the token):

    .venv/bin/python -m bench.replica_kill --tiers small,large

For each tier: a few `auto` requests whose prompt the router sends to that tier measure normal
latency; then `--clients` threads keep sending them, the tier's replicas are killed (`ray.kill`, no
restart: Serve starts a replacement, ~100 s for a vLLM tier on CPU), and sending goes on until the
tier answers again. The table gives the longest request after the kill, how the requests ended
(status, answering tier, `x-tier-router-degraded`) and when the tier was back in use.
"""

import argparse
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from bench.report import markdown_table

# Prompts the shipped CPU router sends to each tier (scores 2.2 and 8.1 against threshold 6.55).
PROMPTS = {
    "small": "What is Python?",
    "large": "Refactor this recursive algorithm to iterative with O(1) space",
}


def ask(url: str, text: str) -> tuple[float, float, object, str, str]:
    """(start, seconds, status or exception name, answering tier, degraded header)."""
    import httpx

    start = time.monotonic()
    body = {"model": "auto", "max_tokens": 16, "messages": [{"role": "user", "content": text}]}
    try:
        r = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=300)
        tier, degraded = r.headers.get("x-tier-router-tier", "-"), r.headers.get("x-tier-router-degraded", "-")
        return start, time.monotonic() - start, r.status_code, tier, degraded
    except httpx.HTTPError as exc:
        return start, time.monotonic() - start, type(exc).__name__, "-", "-"


def kill(app: str, tier: str) -> int:
    import ray

    prefix = f"SERVE_REPLICA::{app}#Tier:{tier}#"
    actors = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith(prefix)]
    for name in actors:
        ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
    return len(actors)


def run(url: str, app: str, tier: str, clients: int, max_s: float) -> list:
    text = PROMPTS[tier]
    normal = max(ask(url, text)[1] for _ in range(3))
    stop, out = threading.Event(), []

    def load() -> None:
        while not stop.is_set():
            out.append(ask(url, text))
            time.sleep(0.2)

    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(load)
        time.sleep(3)
        killed_at, killed = time.monotonic(), kill(app, tier)
        back = None
        while back is None and time.monotonic() - killed_at < max_s:
            time.sleep(2)
            answered = [o[0] + o[1] for o in list(out) if o[0] > killed_at and o[3] == tier and o[2] == 200]
            back = min(answered) - killed_at if answered else None
        stop.set()
    after = [o for o in out if o[0] + o[1] > killed_at]
    ends = Counter(f"{o[2]} {o[3]} {o[4]}" for o in after)
    return [
        tier,
        killed,
        round(normal, 2),
        len(after),
        round(max(o[1] for o in after), 2),
        "; ".join(f"{k}: {n}" for k, n in sorted(ends.items())),
        "not within --max-s" if back is None else round(back, 1),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the ingress")
    parser.add_argument("--app", default="tier-router", help="Serve application name")
    parser.add_argument("--tiers", default="small,large", help="tiers to kill, one after the other")
    parser.add_argument("--clients", type=int, default=4, help="threads sending auto requests")
    parser.add_argument("--max-s", type=float, default=150.0, help="longest wait for the tier to come back")
    args = parser.parse_args()
    import ray

    ray.init(address="auto", log_to_driver=False)
    rows = [run(args.url, args.app, tier, args.clients, args.max_s) for tier in args.tiers.split(",")]
    headers = [
        "tier killed",
        "replicas killed",
        "normal auto s (max of 3)",
        "requests after kill",
        "longest s",
        "status tier degraded: count",
        "tier back in use after s",
    ]
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
