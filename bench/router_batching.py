"""Benchmark: the router deployment's batch settings under concurrent load. One `ComplexityRouter`
Serve deployment per setting (`router.policy.max_batch_size`, `batch_wait_timeout_s`), all in one
Ray instance, real MiniLM on the default encoder, cache off, so every call is scored; closed-loop
callers send `route` calls through a Serve handle (the hop the ingress makes) with real prompts
from the shared sets, at several concurrency levels, settings interleaved and rotated each round.
Reports p50/p99 latency and throughput per setting and level, and the setting with the lowest p99
at the highest level among those whose p50 with one caller is within 10% of the shipped setting's
(the shipped one stays unless another cuts that p99 by more than 10%).

    .venv/bin/python -m bench.router_batching            # about 4 min, updates BENCHMARKS.md
    .venv/bin/python -m bench.router_batching --smoke    # about a minute (Ray start-up)
"""

import asyncio
import random
import sys
import time

from bench import ray_session
from bench.loadgen import LoadResult, closed_loop, interleaved, timed
from bench.report import markdown_table
from bench.router_measure import load_prompts
from bench.serving_report import bench_parser, finish, int_list
from serve_app.routing.policy import RouterPolicy

SETTINGS = ((1, 0.0), (4, 0.002), (8, 0.002), (32, 0.0), (32, 0.002), (32, 0.01))
P50_SLACK = 1.10  # a setting may cost at most 10% more p50 with one caller than the shipped one
P99_MARGIN = 0.10  # and must cut the p99 under the highest load by more than 10% to replace it


def label(size: int, wait: float) -> str:
    return f"b{size}-w{1000 * wait:g}ms"


def shipped() -> str:
    policy = RouterPolicy()
    return label(policy.max_batch_size, policy.batch_wait_timeout_s)


def deploy(backend: str, settings) -> list[str]:
    from ray import serve

    from serve_app.config import RouterConfig
    from serve_app.graph.builder import router_options
    from serve_app.graph.router import ComplexityRouter

    ray_session.start()
    names = []
    for size, wait in settings:
        policy = {"cache_size": 0, "max_batch_size": size, "batch_wait_timeout_s": wait}
        cfg = RouterConfig.model_validate({"encoder_backend": backend, "num_cpus": 0.5, "policy": policy})
        app = serve.deployment(ComplexityRouter).options(**router_options(cfg)).bind(cfg.model_dump(mode="json"))
        names.append(label(size, wait))
        serve.run(app, name=names[-1], route_prefix=None)
    return names


async def sweep(names: list[str], texts: list[str], levels: list[int], n: int, rounds: int, max_s: float) -> dict:
    from ray import serve

    handles = {name: serve.get_app_handle(name) for name in names}
    offsets = iter(range(0, 10**9, n))  # each run starts at a new place in the prompt list

    def call(name: str, i: int, offset: int):
        messages = [{"role": "user", "content": texts[(offset + i) % len(texts)]}]
        return timed(lambda: handles[name].route.remote(messages))

    for name in names:  # warm-up: replicas, handles, the encoder's first calls
        await closed_loop(lambda i, name=name: call(name, i, 0), 2, 8, 60.0)

    def run(name: str, level: int, tag: str):
        offset = next(offsets)
        return closed_loop(lambda i: call(name, i, offset), level, n, max_s)

    return await interleaved(run, names, levels, rounds)


def summarise(results: dict[tuple[str, int], LoadResult], names: list[str], levels: list[int]) -> list[dict]:
    rows = []
    for level in levels:
        for name in names:
            s = results[(name, level)].summary()
            keys = ("requests", "errors", "p50_ms", "p99_ms", "req_per_s")
            rows.append({"setting": name, "concurrency": level, **{k: s[k] for k in keys}})
    return rows


def pick(rows: list[dict], reference: str) -> str:
    """Lowest p99 at the highest concurrency among settings whose p50 at the lowest concurrency is
    within `P50_SLACK` of `reference`'s (the shipped setting: a lone request must not get slower);
    `reference` itself unless that p99 is lower than its own by more than `P99_MARGIN` (run-to-run
    noise on this shared machine is of that size). Lone requests are compared with the shipped
    setting, not the fastest: with one caller every setting without a wait scores each call alone."""
    low, high = min(r["concurrency"] for r in rows), max(r["concurrency"] for r in rows)
    alone = {r["setting"]: r["p50_ms"] for r in rows if r["concurrency"] == low}
    fair = {k for k, v in alone.items() if v <= P50_SLACK * alone.get(reference, min(alone.values()))}
    loaded = {r["setting"]: r["p99_ms"] for r in rows if r["concurrency"] == high and r["setting"] in fair}
    best = min(loaded, key=loaded.get)
    if reference in loaded and loaded[best] > (1 - P99_MARGIN) * loaded[reference]:
        return reference
    return best


def render(rows: list[dict], best: str, backend: str, tokens: dict) -> str:
    table = markdown_table(
        ["setting", "concurrency", "requests", "errors", "p50 ms", "p99 ms", "routes/s"],
        [
            [
                r["setting"] + (" (shipped)" if r["setting"] == shipped() else ""),
                r["concurrency"],
                r["requests"],
                r["errors"],
                r["p50_ms"],
                r["p99_ms"],
                round(r["req_per_s"], 1),
            ]
            for r in rows
        ],
    )
    return (
        f"`route` calls through a Serve handle to one `ComplexityRouter` replica per setting (`bN-wMms` = "
        f"`max_batch_size` N, `batch_wait_timeout_s` M ms), exemplar strategy on `{backend}`, one encoder "
        f"thread, cache off (every call is scored); real prompts from the four shared sets in a fixed shuffled "
        f"order (MiniLM text tokens p50 {tokens['p50']}, p90 {tokens['p90']}, max {tokens['max']}; longer than "
        f"254 are scored as `chunk_mean` windows). Closed-loop callers in the benchmark's own process, "
        f"settings interleaved. Latency is the caller's, queueing for a batch included.\n\n{table}\n\n"
        f"**Pick** (lowest p99 at the highest concurrency among settings whose p50 with one caller is within "
        f"{P50_SLACK - 1:.0%} of the shipped setting's; the shipped one stays unless that p99 is more than "
        f"{P99_MARGIN:.0%} lower than its own): `{best}`; shipped: `{shipped()}`.\n"
    )


def token_stats(texts: list[str]) -> dict:
    import numpy as np

    from serve_app.routing.encoder import load_tokenizer
    from serve_app.routing.weights import packaged_minilm_path

    encodings = load_tokenizer(packaged_minilm_path()).encode_batch(texts, add_special_tokens=False)
    counts = [len(e.ids) for e in encodings]
    return {q: int(np.percentile(counts, v)) for q, v in (("p50", 50), ("p90", 90))} | {"max": max(counts)}


def main(argv=None) -> int:
    p = bench_parser(__doc__, shared_data=True)
    p.add_argument("--levels", default="1,8,32", help="concurrent callers")
    p.add_argument("--n", type=int, default=150, help="calls per setting, level and round")
    p.add_argument("--rounds", type=int, default=2, help="rounds (setting order rotates each round)")
    p.add_argument("--max-seconds", type=float, default=30.0, help="cap per setting, level and round")
    p.add_argument("--backend", default="auto", help="router.encoder_backend")
    args = p.parse_args(argv)
    levels = int_list(args.levels)
    settings = SETTINGS
    if args.smoke:
        levels, args.n, args.rounds, settings = [1, 4], 8, 1, SETTINGS[:1] + SETTINGS[-2:-1]
    texts = [t for file in load_prompts(args.data, 500).values() for t in file]
    random.Random(0).shuffle(texts)
    start = time.perf_counter()
    names = [label(*s) for s in settings]
    results = ray_session.run(
        lambda: deploy(args.backend, settings),
        lambda names: asyncio.run(sweep(names, texts, levels, args.n, args.rounds, args.max_seconds)),
    )
    rows = summarise(results, names, levels)
    best = pick(rows, shipped())
    data = {"rows": rows, "pick": best, "shipped": shipped(), "levels": levels, "n": args.n, "rounds": args.rounds}
    data["elapsed_s"] = time.perf_counter() - start
    md = render(rows, best, args.backend, token_stats(texts))
    return finish(args, "router_batching", "Router batch settings under concurrent load", md, data)


if __name__ == "__main__":
    sys.exit(main())
