"""Benchmark: the router's MiniLM runtimes side by side in one run (one thread each).

Per backend: router p50/p99 (wall and CPU) for a 60-token and a 254-token prompt through
`RouterCore.route` (exemplar strategy, cache off), interleaved round-robin so machine noise hits all
alike, with the ratio to today's `onnx-int8`; long prompts under each long-prompt policy; and
agreement with the fp32 reference on every shared dataset (cosine; identical decisions at 4.0 and
at the 50/70/90% quantiles of the fp32 scores).

    .venv/bin/python -m bench.encoder_runtimes            # full run, updates BENCHMARKS.md
    .venv/bin/python -m bench.encoder_runtimes --smoke    # seconds
"""

import os
import sys
import time

from bench.encoder_measure import SentenceTransformersEncoder, agreement, interleaved, pick_by_tokens
from bench.encoder_report import render
from bench.router_measure import build_core, load_prompts
from bench.serving_report import bench_parser, finish

BACKENDS = ("torch", "onnx-int8", "onnx-fp32", "openvino-bf16", "onnx-vnni-int8")
BASE = "onnx-int8"
LENGTHS = {"60 tokens": (58, 62), "254 tokens": (248, 254)}
LONG = (400, 1100)


def build_encoders(smoke: bool) -> dict:
    from serve_app.routing.encoder_registry import make_encoder, resolve

    encoders = {"st-torch (before)": SentenceTransformersEncoder()}
    for name in BACKENDS:
        if resolve(name)[0] == name:  # measure only what really runs here, no silent fallback
            encoders[name] = make_encoder(name)
    auto = resolve("auto")[0]
    return encoders, auto


def latency(encoders: dict, texts: list[str], n: int) -> list[dict]:
    counter = encoders["torch"].token_counts
    rows = []
    for label, (lo, hi) in LENGTHS.items():
        prompts = pick_by_tokens(texts, counter, lo, hi, 30)
        cores = {k: build_core("exemplar", e, {}, cache_size=0) for k, e in encoders.items()}
        for name, stats in interleaved(cores, prompts, n).items():
            rows.append({"prompt": label, "backend": name, **stats})
        print(f"  latency {label} done", flush=True)
    return rows


def long_prompts(encoders: dict, auto: str, texts: list[str], n: int) -> list[dict]:
    from serve_app.routing.encoder_registry import make_encoder

    prompts = pick_by_tokens(texts, encoders["torch"].token_counts, *LONG, 20)
    cores = {
        p: build_core("exemplar", make_encoder(auto, long_prompts=p), {}, cache_size=0)
        for p in ("truncate", "head_tail", "chunk_mean")
    }
    return [{"policy": k, "backend": auto, **v} for k, v in interleaved(cores, prompts, n).items()]


def main(argv=None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = bench_parser(__doc__, shared_data=True)
    p.add_argument("--n", type=int, default=200, help="timed single-prompt calls per backend and length")
    p.add_argument("--agree-n", type=int, default=1000, help="prompts per dataset for the agreement check")
    args = p.parse_args(argv)
    if args.smoke:
        args.n, args.agree_n = 3, 8
    start = time.perf_counter()
    encoders, auto = build_encoders(args.smoke)
    texts = [t for file in load_prompts(args.data, 3000 if not args.smoke else 400).values() for t in file]
    rows = latency(encoders, texts, args.n)
    long_rows = long_prompts(encoders, auto, texts, max(args.n // 4, 3))
    others = {k: e for k, e in encoders.items() if k not in ("torch", "st-torch (before)")}
    agree = agreement(args.data, encoders["torch"], others, args.agree_n)
    data = {
        "latency": rows,
        "long": long_rows,
        "agreement": agree,
        "auto": auto,
        "base": BASE,
        "kernels": {k: e.kernels for k, e in encoders.items()},
        "elapsed_s": time.perf_counter() - start,
    }
    return finish(args, "encoders", "Router encoder runtimes", render(data), data)


if __name__ == "__main__":
    sys.exit(main())
