"""End-to-end load on the CPU default (deployments/cpu.yaml: real vLLM CPU
engines serving SmolLM2-135M, MiniLM router, cascade on). A bounded closed-loop load generator on
127.0.0.1 (request count and duration capped per step) sweeps concurrency and reports req/s, p50,
p99, TTFT of streamed requests, errors, the tier split and the escalation rate (response headers).

    .venv/bin/python -m bench.load              # ~3 min start-up + the sweep; updates BENCHMARKS.md
    .venv/bin/python -m bench.load --smoke      # start-up + a few requests
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import yaml

from bench import ray_session
from bench.loadgen import run_load
from bench.report import markdown_table
from bench.serving_report import bench_parser, finish, int_list, repo_path


def deploy(config: Path, backend: str | None, cascade: dict | None = None) -> int:
    from ray import serve

    from serve_app.config import AppConfig
    from serve_app.graph.builder import build_app

    args = yaml.safe_load(config.read_text())["applications"][0]["args"]
    if backend:
        args.setdefault("router", {})["encoder_backend"] = backend
    if cascade:
        args.setdefault("ingress", {}).setdefault("cascade", {}).update(cascade)
    port = ray_session.start()
    serve.run(build_app(AppConfig.model_validate(args)), name="tier-router", route_prefix="/")
    return port


def prompts(data: Path, n: int) -> list[str]:
    """A fixed mix of real prompts (MT-Bench first turns: writing to reasoning and coding)."""
    rows = [json.loads(line) for line in data.open() if line.strip()]
    return [r["prompt"] for r in rows][:n]


def body_maker(texts: list[str], max_tokens: int, stream_every: int):
    def make(i: int) -> dict:
        body = {
            "model": "auto",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": texts[i % len(texts)]}],
        }
        if stream_every and i % stream_every == 0:
            body["stream"] = True
        return body

    return make


async def sweep(port: int, levels: list[int], texts: list[str], args) -> list[dict]:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    make = body_maker(texts, args.max_tokens, args.stream_every)
    await run_load(url, make, 1, 2, 120.0, timeout_s=120.0)  # warm-up
    steps = []
    for level in levels:
        res = await run_load(url, make, level, args.requests, args.max_seconds, timeout_s=120.0)
        steps.append(res.summary())
        print(f"  c={level}: {steps[-1]['req_per_s']:.2f} req/s, p50 {steps[-1]['p50_ms']:.0f} ms", flush=True)
    return steps


def ttft_note(cascade: dict | None) -> str:
    """What a streamed small answer's TTFT is under the cascade settings the run deployed."""
    if cascade is None:  # results written before the run recorded its cascade settings (2026-11-30T08:08)
        return (
            "TTFT of a streamed request that routes to small with the cascade on is the small tier's whole "
            "generation: this run predates prefix streaming (the cascade then buffered the whole small answer); "
            'the cascade\'s first-token time today is in "Streaming cascade: time to first token".'
        )
    if cascade["streaming"] == "buffered":
        return (
            "TTFT of a streamed request that routes to small with the cascade on is the small tier's whole "
            "generation (`streaming: buffered`)."
        )
    return (
        "TTFT of a streamed request that routes to small with the cascade on is the small tier's time to its "
        f"{cascade['prefix_tokens']}-th token (`streaming: prefix`, `prefix_tokens` {cascade['prefix_tokens']}), "
        'plus the large tier\'s first token when it escalates; see "Streaming cascade: time to first token".'
    )


def render(steps: list[dict], args, cascade: dict | None) -> str:
    table = markdown_table(
        [
            "concurrency",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "stream TTFT p50 ms",
            "stream TTFT p99 ms",
            "answered small/large",
            "escalation rate",
        ],
        [
            [
                s["concurrency"],
                s["requests"],
                s["errors"],
                round(s["req_per_s"], 2),
                round(s["p50_ms"]),
                round(s["p99_ms"]),
                round(s["ttft_p50_ms"]),
                round(s["ttft_p99_ms"]),
                f"{s['tiers'].get('small', 0)}/{s['tiers'].get('large', 0)}",
                f"{100 * s['escalation_rate']:.0f}% ({s['escalated']}/{s['cascaded']})",
            ]
            for s in steps
        ],
    )
    return (
        f"`{repo_path(args.config)}` as it was when this ran (both tiers SmolLM2-135M on vLLM CPU, one CPU "
        f"each), model `auto`, MT-Bench first-turn prompts, `max_tokens` {args.max_tokens}, one "
        f"request in {args.stream_every} streamed; at most {args.requests} requests or "
        f"{args.max_seconds:.0f} s per step. `answered` counts `x-tier-router-tier` (escalated answers "
        f"count as large); the escalation rate is over requests the cascade judged (routed to small). "
        f"{ttft_note(cascade)}\n\n{table}\n"
    )


def markdown_from_result(data: dict) -> str:
    """The section's text again from a stored result (no measuring): `python -m bench.rerender load`."""
    from bench.rerender import recorded_args

    return render(data["steps"], recorded_args(data, parser()), data.get("cascade"))


def deployed_cascade(config: Path):
    """The cascade policy the serve config deploys (`ingress.cascade`, defaults filled in)."""
    from serve_app.cascade.policy import CascadePolicy

    args = yaml.safe_load(config.read_text())["applications"][0]["args"]
    return CascadePolicy.model_validate(args.get("ingress", {}).get("cascade", {}))


def parser() -> argparse.ArgumentParser:
    from serve_app.routing.encoder_registry import BACKENDS

    p = bench_parser(__doc__, serve_config=True)
    p.add_argument("--backend", default=None, choices=["auto", *BACKENDS], help="override the router encoder")
    p.add_argument("--levels", default="1,4,8", help="client concurrency levels")
    p.add_argument("--requests", type=int, default=48, help="most requests per step")
    p.add_argument("--max-seconds", type=float, default=120.0, help="most seconds per step")
    p.add_argument("--max-tokens", type=int, default=32, help="max_tokens per request")
    p.add_argument("--stream-every", type=int, default=2, help="stream every Nth request (0: never)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    levels = int_list(args.levels)
    if args.smoke:
        levels, args.requests, args.max_seconds, args.max_tokens = [2], 4, 60.0, 8
    texts = prompts(Path(args.data), 80)
    start = time.perf_counter()
    steps = ray_session.run(
        lambda: deploy(Path(args.config), args.backend), lambda port: asyncio.run(sweep(port, levels, texts, args))
    )
    cascade = deployed_cascade(Path(args.config)).model_dump(include={"streaming", "prefix_tokens"})
    return finish(
        args,
        "load",
        "End-to-end load (CPU default, real vLLM)",
        render(steps, args, cascade),
        {"steps": steps, "cascade": cascade, "elapsed_s": time.perf_counter() - start},
    )


if __name__ == "__main__":
    sys.exit(main())
