"""The graph benchmark: what the serving graph adds. One echo engine (the same `EchoEngine` in Ray's
`LLMServer`) reached in one Ray Serve instance, side by side, at several concurrency levels:

  direct        one Serve deployment (LLMServer + echo) with its own HTTP route: proxy -> replica
  ray-openai    Ray's stock build_openai_app: proxy -> OpenAiIngress -> LLMServer
  tr-small      tier-router, model `small`: proxy -> TierRouterIngress -> LLMServer
  tr-auto-ro    tier-router, model `auto`, repeated prompt, cascade mode route_only: + router hop (cache hit)
  tr-auto       tier-router, model `auto`, repeated prompt: + router hop (cache hit) + cascade judging
  tr-auto-new   tier-router, model `auto`, a new prompt each time: + MiniLM scoring in the router
  tr-ip-ro      as tr-auto-ro with `router.placement: in_process` (no router hop: cache hit in the ingress)
  tr-ip-new     as tr-auto-new, route_only, in_process: MiniLM scoring inside the ingress replica

    .venv/bin/python -m bench.graph_overhead            # full run (~5 min), updates BENCHMARKS.md
    .venv/bin/python -m bench.graph_overhead --smoke    # about a minute (Ray start-up)
"""

import asyncio
import sys
import time

from bench import graph_profile, ray_session
from bench.loadgen import interleaved, run_load
from bench.report import markdown_table
from bench.serving_report import bench_parser, finish, int_list
from bench.stats import ratio

PATHS = ("direct", "ray-openai", "tr-small", "tr-auto-ro", "tr-auto", "tr-auto-new", "tr-ip-ro", "tr-ip-new")
PREFIX = {
    "direct": "/direct",
    "ray-openai": "/openai",
    "tr-small": "/tr",
    "tr-auto-ro": "/tro",
    "tr-auto": "/tr",
    "tr-auto-new": "/tr",
    "tr-ip-ro": "/tip",
    "tr-ip-new": "/tip",
}


def tier_router_args(backend: str, cascade_mode: str = "route_and_cascade", placement: str = "deployment") -> dict:
    # Logical CPUs are halved so that both tier-router apps fit Ray's 8 next to the other paths.
    tier = {
        "engine": "echo",
        "model_source": "echo",
        "engine_kwargs": {"max_model_len": 4096},
        "max_ongoing_requests": 256,
        "num_cpus": 0.5,
    }
    return {
        "router": {
            "encoder_backend": backend,
            "placement": placement,
            "num_cpus": 0.5,
            "policy": {"strategy": {"name": "exemplar"}},
        },
        "ingress": {"max_ongoing_requests": 256, "num_cpus": 0.5, "cascade": {"mode": cascade_mode}},
        "tiers": {"small": tier, "large": dict(tier)},
    }


def deploy_all(backend: str) -> int:
    from ray import serve

    from bench.graph_apps import build_direct_app, build_ray_openai_app
    from serve_app.config import AppConfig
    from serve_app.graph.builder import build_app

    port = ray_session.start()
    serve.run(build_direct_app(), name="direct", route_prefix="/direct")
    serve.run(build_ray_openai_app(), name="ray-openai", route_prefix="/openai")
    serve.run(build_app(AppConfig.model_validate(tier_router_args(backend))), name="tier-router", route_prefix="/tr")
    serve.run(
        build_app(AppConfig.model_validate(tier_router_args(backend, "route_only"))),
        name="tier-router-ro",
        route_prefix="/tro",
    )
    serve.run(
        build_app(AppConfig.model_validate(tier_router_args(backend, "route_only", "in_process"))),
        name="tier-router-ip",
        route_prefix="/tip",
    )
    return port


def body_maker(path: str, tag: str):
    model = "auto" if path.startswith(("tr-auto", "tr-ip")) else "small"
    base = "Summarise the plot of Hamlet in two sentences."

    def make(i: int) -> dict:
        text = f"{base} (request {tag}-{i})" if path.endswith("-new") else base
        return {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]}

    return make


async def sweep(port: int, levels: list[int], n: int, rounds: int, max_s: float) -> dict:
    """Every path at every level, in an order rotated each round so drift hits all paths alike."""
    for path in PATHS:  # warm-up: connections, replicas, the router's cache for tr-auto
        await run_load(
            f"http://127.0.0.1:{port}{PREFIX[path]}/v1/chat/completions", body_maker(path, "warm"), 2, 10, 30.0
        )

    def run(path: str, level: int, tag: str):
        url = f"http://127.0.0.1:{port}{PREFIX[path]}/v1/chat/completions"
        return run_load(url, body_maker(path, tag), level, n, max_s)

    return await interleaved(run, PATHS, levels, rounds)


def summarise(results: dict, levels: list[int]) -> list[dict]:
    rows = []
    for level in levels:
        base = results[("direct", level)].summary()
        for path in PATHS:
            s = results[(path, level)].summary()
            rows.append(
                {
                    "path": path,
                    "concurrency": level,
                    "requests": s["requests"],
                    "errors": s["errors"],
                    "p50_ms": s["p50_ms"],
                    "p99_ms": s["p99_ms"],
                    "req_per_s": s["req_per_s"],
                    "added_p50_ms": s["p50_ms"] - base["p50_ms"],
                    "added_p99_ms": s["p99_ms"] - base["p99_ms"],
                    "throughput_vs_direct": ratio(s["req_per_s"], base["req_per_s"]),
                }
            )
    return rows


def verdict(rows: list[dict]) -> list[dict]:
    """Per level: tier-router's added p50 with a router hop vs OpenAiIngress's added p50 plus one hop
    (one hop = what OpenAiIngress adds over direct, i.e. its ingress -> LLMServer call)."""
    out = []
    for level in sorted({r["concurrency"] for r in rows}):
        get = {r["path"]: r for r in rows if r["concurrency"] == level}
        hop = get["ray-openai"]["added_p50_ms"]
        allowed = hop + hop
        out.append(
            {
                "concurrency": level,
                "tr_auto_ro_added_p50_ms": get["tr-auto-ro"]["added_p50_ms"],
                "tr_auto_added_p50_ms": get["tr-auto"]["added_p50_ms"],
                "tr_ip_ro_added_p50_ms": get["tr-ip-ro"]["added_p50_ms"],
                "router_hop_p50_ms": get["tr-auto-ro"]["p50_ms"] - get["tr-ip-ro"]["p50_ms"],
                "allowed_p50_ms": allowed,
                "met": get["tr-auto-ro"]["added_p50_ms"] <= allowed,
                "ip_met": get["tr-ip-ro"]["added_p50_ms"] <= allowed,
            }
        )
    return out


def render(rows: list[dict], checks: list[dict], backend: str) -> str:
    table = markdown_table(
        [
            "path",
            "concurrency",
            "requests",
            "errors",
            "p50 ms",
            "p99 ms",
            "added p50 ms",
            "added p99 ms",
            "req/s",
            "throughput vs direct",
        ],
        [
            [
                r["path"],
                r["concurrency"],
                r["requests"],
                r["errors"],
                r["p50_ms"],
                r["p99_ms"],
                r["added_p50_ms"],
                r["added_p99_ms"],
                round(r["req_per_s"], 1),
                round(r["throughput_vs_direct"], 2),
            ]
            for r in rows
        ],
    )
    bar = markdown_table(
        [
            "concurrency",
            "tr-auto-ro added p50 ms (graph)",
            "tr-auto added p50 ms (+ cascade)",
            "tr-ip-ro added p50 ms (in-process router)",
            "router hop p50 ms (tr-auto-ro - tr-ip-ro)",
            "allowed: 2 x (ray-openai added p50)",
            "graph bar (separate router)",
            "graph bar (in-process router)",
        ],
        [
            [
                c["concurrency"],
                c["tr_auto_ro_added_p50_ms"],
                c["tr_auto_added_p50_ms"],
                c["tr_ip_ro_added_p50_ms"],
                round(c["router_hop_p50_ms"], 2),
                c["allowed_p50_ms"],
                _met(c["met"], c["tr_auto_ro_added_p50_ms"] - c["allowed_p50_ms"]),
                _met(c["ip_met"], c["tr_ip_ro_added_p50_ms"] - c["allowed_p50_ms"]),
            ]
            for c in checks
        ],
    )
    return (
        f"Echo engine, non-streamed chat completions, closed-loop clients on 127.0.0.1; router "
        f"`exemplar` on `{backend}`. `added` = minus the direct path at the same concurrency.\n\n"
        f"{table}\n\n**Bar** (tier-router adds no more than OpenAiIngress plus one Serve hop; one hop "
        f"is taken as what OpenAiIngress itself adds over direct, so the allowance is twice that):\n\n{bar}\n"
    )


def _met(met: bool, over_ms: float) -> str:
    return "met" if met else f"MISSED by {over_ms:.2f} ms"


async def where_time_goes(port: int, seconds: int, level: int = 32) -> dict:
    paths = {p: PREFIX[p] for p in ("direct", "ray-openai", "tr-small", "tr-auto-ro", "tr-auto", "tr-ip-ro")}
    cpu = await graph_profile.cpu_per_request(port, paths, body_maker, level, seconds)
    spy = await graph_profile.pyspy_ingress(
        port,
        PREFIX["tr-auto-ro"],
        body_maker("tr-auto-ro", "spy"),
        level,
        seconds,
        "ServeReplica:tier-router-ro:TierRouterIngress",
    )
    return {"level": level, "cpu": cpu, "pyspy_ingress": spy}


def cpu_bar(profile: dict) -> dict:
    """The bar in CPU per request (what latency tracks on a saturated shared box): tier-router's
    added CPU over direct vs OpenAiIngress's added CPU plus one hop (taken, generously, as the same)."""
    cpu = {r["path"]: r["total_cpu_ms"] for r in profile["cpu"]}
    openai_added = cpu["ray-openai"] - cpu["direct"]
    added = cpu["tr-auto-ro"] - cpu["direct"]
    ip_added = cpu["tr-ip-ro"] - cpu["direct"]
    return {
        "tr_auto_ro_added_cpu_ms": added,
        "ray_openai_added_cpu_ms": openai_added,
        "tr_ip_ro_added_cpu_ms": ip_added,
        "router_hop_cpu_ms": cpu["tr-auto-ro"] - cpu["tr-small"],
        "router_hop_vs_in_process_cpu_ms": cpu["tr-auto-ro"] - cpu["tr-ip-ro"],
        "cascade_cpu_ms": cpu["tr-auto"] - cpu["tr-auto-ro"],
        "allowed_cpu_ms": 2 * openai_added,
        "met": added <= 2 * openai_added,
        "ip_met": ip_added <= 2 * openai_added,
    }


def render_profile(profile: dict, seconds: int) -> str:
    bar = cpu_bar(profile)
    allowed, sep, ip = bar["allowed_cpu_ms"], bar["tr_auto_ro_added_cpu_ms"], bar["tr_ip_ro_added_cpu_ms"]
    return (
        f"\nIn CPU per request: tier-router (tr-auto-ro) adds {sep:.2f} ms over direct, "
        f"OpenAiIngress adds {bar['ray_openai_added_cpu_ms']:.2f} ms, allowance {allowed:.2f} ms: "
        f"**{_met(bar['met'], sep - allowed)}**; with the router in-process "
        f"(tr-ip-ro) {ip:.2f} ms: **{_met(bar['ip_met'], ip - allowed)}**. "
        f"The router hop costs {bar['router_hop_cpu_ms']:.2f} ms CPU/request over tr-small (no router call) and "
        f"{bar['router_hop_vs_in_process_cpu_ms']:.2f} ms over the in-process router (tr-auto-ro minus tr-ip-ro); "
        f"cascade judging {bar['cascade_cpu_ms']:.2f} ms (tr-auto minus tr-auto-ro).\n"
        + _profile_text(profile, seconds)
    )


def _profile_text(profile: dict, seconds: int) -> str:
    return (
        f"\n**Where the time goes.** CPU time per request of every process of this Ray instance while one "
        f"path alone is loaded at concurrency {profile['level']} for {seconds} s (on 2 shared cores, CPU "
        f"per request is what sets latency under load):\n\n{graph_profile.cpu_table(profile['cpu'])}\n\n"
        f"py-spy on tier-router's ingress replica (path tr-auto-ro, concurrency {profile['level']}):\n\n"
        f"```\n{profile['pyspy_ingress']}\n```\n"
    )


def main(argv=None) -> int:
    p = bench_parser(__doc__)
    p.add_argument("--levels", default="1,8,32", help="client concurrency levels")
    p.add_argument("--n", type=int, default=100, help="requests per path, level and round")
    p.add_argument("--rounds", type=int, default=2, help="rounds (path order rotates each round)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="cap per path, level and round")
    p.add_argument(
        "--profile-seconds",
        type=int,
        default=15,
        help="per path: CPU accounting and a py-spy sample at concurrency 32 (0: skip)",
    )
    p.add_argument("--backend", default="auto", help="router encoder (router.encoder_backend)")
    args = p.parse_args(argv)
    levels = int_list(args.levels)
    if args.smoke:
        levels, args.n, args.rounds, args.max_seconds, args.profile_seconds = [1, 4], 8, 1, 20.0, 2
    start = time.perf_counter()

    def measure(port: int) -> tuple:
        results = asyncio.run(sweep(port, levels, args.n, args.rounds, args.max_seconds))
        return results, asyncio.run(where_time_goes(port, args.profile_seconds)) if args.profile_seconds else None

    results, profile = ray_session.run(lambda: deploy_all(args.backend), measure)
    rows = summarise(results, levels)
    checks = verdict(rows)
    md = render(rows, checks, args.backend)
    if profile:
        md += render_profile(profile, args.profile_seconds)
    return finish(
        args,
        "graph",
        "2. Graph overhead (echo engine)",
        md,
        {
            "rows": rows,
            "bar": checks,
            "profile": profile,
            "cpu_bar": cpu_bar(profile) if profile else None,
            "levels": levels,
            "n": args.n,
            "rounds": args.rounds,
            "elapsed_s": time.perf_counter() - start,
        },
    )


if __name__ == "__main__":
    sys.exit(main())
