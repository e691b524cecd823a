"""Router scoring latency, throughput, cache hits and CPU time, per strategy on two encoder
backends of the registry (`torch`: transformers fp32 on torch; `onnx-int8`: the packaged weight-only
int8 graph on onnxruntime), one thread each, plus the two backends' agreement (cosine, routing
decisions) on the shared datasets. The default runtime (`auto`) and the others side by side:
`bench.encoder_runtimes`.

    .venv/bin/python -m bench.router_overhead            # full run (a few minutes), updates BENCHMARKS.md
    .venv/bin/python -m bench.router_overhead --smoke    # seconds
"""

import os
import re
import sys
import time

import numpy as np

from bench.report import machine_info, markdown_table
from bench.router_measure import (
    BUCKETS,
    agreement,
    artifact_dir,
    bucket_prompts,
    build_core,
    ensure_artifacts,
    load_prompts,
    measure_batch,
    measure_cache_hit,
    measure_single,
    profile_scoring,
)
from bench.serving_report import ROOT, bench_parser, finish
from serve_app.routing.policy import DEFAULT_THRESHOLD

BACKENDS = ("torch", "onnx-int8")
STRATEGIES = ("length", "exemplar", "knn", "logistic")
BAR_MS, CACHE_BAR_MS = 5.0, 0.1


def make_encoders() -> dict:
    from serve_app.routing.encoder_registry import make_encoder

    return {b: make_encoder(b, threads=1) for b in BACKENDS}


def run_latency(encoders, buckets, artifacts, args) -> list[dict]:
    rows = []
    for strategy in STRATEGIES:
        for backend in BACKENDS if strategy != "length" else ("none",):
            core = build_core(strategy, encoders.get(backend, encoders["torch"]), artifacts, cache_size=0)
            for bucket, prompts in buckets.items():
                single = measure_single(core, prompts, args.n)
                rows.append(
                    {
                        "strategy": strategy,
                        "backend": backend,
                        "bucket": bucket,
                        "tokens": float(np.mean([t for _, t in prompts])),
                        **single,
                        "batch_prompts_per_s": measure_batch(core, prompts, args.batch, args.batches),
                    }
                )
                print(f"  {strategy:9} {backend:9} {bucket:6} p50 {single['p50_ms']:.2f} ms", flush=True)
    return rows


def latency_table(rows: list[dict]) -> str:
    return markdown_table(
        ["strategy", "backend", "prompt", "tokens", "p50 ms", "p99 ms", "CPU ms/prompt", "batched prompts/s"],
        [
            [
                r["strategy"],
                r["backend"],
                r["bucket"],
                round(r["tokens"]),
                r["p50_ms"],
                r["p99_ms"],
                r["cpu_ms"],
                round(r["batch_prompts_per_s"], 1),
            ]
            for r in rows
        ],
    )


def agreement_table(rows: list[dict]) -> str:
    return markdown_table(
        ["dataset", "prompts", "cosine min", "cosine mean", "decisions agree", "mean abs score diff"],
        [
            [
                r["dataset"],
                r["prompts"],
                f"{r['cos_min']:.4f}",
                f"{r['cos_mean']:.4f}",
                f"{100 * r['agree']:.2f}%",
                round(r["score_diff"], 3),
            ]
            for r in rows
        ],
    )


def bars(rows, cache) -> dict:
    med = [r for r in rows if r["bucket"] == "medium" and r["strategy"] == "exemplar"]
    best = min(med, key=lambda r: r["p50_ms"])
    return {
        "best_backend": best["backend"],
        "medium_p50_ms": best["p50_ms"],
        "medium_cpu_ms": best["cpu_ms"],
        "router_bar_met": best["p50_ms"] < BAR_MS,
        "cache_p50_ms": cache["p50_ms"],
        "cache_bar_met": cache["p50_ms"] < CACHE_BAR_MS,
    }


def render(rows, cache, agree, verdict, profile, date: str) -> str:
    """The section's text; `date` is the run's (the profile names the code that ran then)."""
    missed = f"MISSED by {verdict['medium_p50_ms'] - BAR_MS:.2f} ms"
    backends = ", ".join(dict.fromkeys(r["backend"] for r in rows if r["strategy"] == "exemplar"))
    lines = [
        "Single-prompt latency (wall p50/p99 and CPU time per prompt, cache off, one thread) and "
        "batched throughput (batches of 32), real prompts from the shared datasets bucketed by "
        "MiniLM token count.",
        "",
        latency_table(rows),
        "",
        f"Cache hit (in-process `RouterCore.route` on a cached text): p50 {cache['p50_ms'] * 1000:.1f} us, "
        f"p99 {cache['p99_ms'] * 1000:.1f} us.",
        "",
        f"Backend agreement, exemplar strategy at threshold {DEFAULT_THRESHOLD:.1f} (fp32 torch vs int8 ONNX):",
        "",
        agreement_table(agree),
        "",
        f"**Bar.** Medium prompt, exemplar, the faster of the backends this run measured ({backends}: "
        f"{verdict['best_backend']}): p50 {verdict['medium_p50_ms']:.2f} ms wall, "
        f"{verdict['medium_cpu_ms']:.2f} ms CPU (bar {BAR_MS} ms: {'met' if verdict['router_bar_met'] else missed}). "
        f"Cache hit p50 {verdict['cache_p50_ms'] * 1000:.1f} us (bar 100 us: "
        f"{'met' if verdict['cache_bar_met'] else 'missed'}). The default runtime (`auto`) is measured "
        'in "Router encoder runtimes".',
    ]
    if profile:
        lines += ["", profile_heading(profile, date), "", "```", profile.strip(), "```"]
    return "\n".join(lines)


def profile_heading(profile: str, date: str) -> str:
    """Says which run the listing is from, and which files it names are no longer in the tree."""
    cited = dict.fromkeys(re.findall(r"serve_app/[\w/]+\.py", profile))
    gone = [f"`{path}`" for path in cited if not (ROOT / path).exists()]
    note = f"; not in today's tree: {', '.join(gone)} (rerun for a current listing)" if gone else ""
    return (
        f"Where the time goes (cProfile of this run, {date}, exemplar strategy, the faster backend, "
        f"medium prompts, top functions by own time; file names are those of the code that ran then{note}):"
    )


def markdown_from_result(data: dict) -> str:
    """The section's text again from a stored result (no measuring): `python -m bench.rerender router`.
    Results written before the profile was stored on its own keep it only inside their markdown."""
    profile = data.get("profile")
    if profile is None:
        fenced = re.search(r"\n```\n(.*)\n```", data["markdown"], re.S)
        profile = fenced.group(1) if fenced else ""
    return render(data["latency"], data["cache_hit"], data["agreement"], data["bars"], profile, data["machine"]["date"])


def main(argv=None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = bench_parser(__doc__, shared_data=True)
    p.add_argument("--n", type=int, default=60, help="timed single-prompt calls per cell")
    p.add_argument("--batch", type=int, default=32, help="prompts per batched call")
    p.add_argument("--batches", type=int, default=4, help="timed batched calls per cell")
    p.add_argument("--agree-n", type=int, default=400, help="prompts per dataset for the agreement check")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.batch, args.batches, args.agree_n = 3, 4, 1, 8
    start = time.perf_counter()
    encoders = make_encoders()
    texts = load_prompts(args.data, 2000 if not args.smoke else 300)
    buckets = bucket_prompts(texts, encoders["onnx-int8"], per_bucket=max(args.n, args.batch))
    artifacts = ensure_artifacts(args.data, artifact_dir(args.smoke), smoke=args.smoke)
    rows = run_latency(encoders, buckets, artifacts, args)
    cache = measure_cache_hit(
        build_core("exemplar", encoders["onnx-int8"], artifacts, cache_size=10_000), 2000 if not args.smoke else 50
    )
    agree = agreement(args.data, encoders["torch"], encoders["onnx-int8"], args.agree_n)
    verdict = bars(rows, cache)
    profile = profile_scoring(
        build_core("exemplar", encoders[verdict["best_backend"]], artifacts, 0), buckets["medium"], args.n
    )
    machine = machine_info()
    md = render(rows, cache, agree, verdict, profile, machine["date"])
    return finish(
        args,
        "router",
        "1. Router scoring",
        md,
        {
            "latency": rows,
            "cache_hit": cache,
            "agreement": agree,
            "bars": verdict,
            "profile": profile,
            "buckets_tokens": BUCKETS,
            "elapsed_s": time.perf_counter() - start,
        },
        machine,
    )


if __name__ == "__main__":
    sys.exit(main())
