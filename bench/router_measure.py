"""Measurements behind bench/router_overhead.py (prompts, timings, agreement, profile)."""

import cProfile
import io
import json
import pstats
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.stats import summarize
from serve_app.local_files import cache_dir
from serve_app.routing.policy import DEFAULT_THRESHOLD

# MiniLM tokens (no special tokens) per prompt bucket: ~15, ~60, ~250 as the issue asks.
BUCKETS = {"short": (10, 20), "medium": (50, 70), "long": (220, 256)}
DATASETS = ("routellm_mtbench", "routellm_gsm8k", "routellm_mmlu", "llmrouter_uiuc")


def load_prompts(data_dir: str, per_file: int, seed: int = 0) -> dict[str, list[str]]:
    """Up to `per_file` distinct prompts from each shared dataset (a fixed random sample)."""
    out = {}
    for name in DATASETS:
        path = Path(data_dir) / f"{name}.jsonl"
        if not path.exists():
            continue
        prompts = list(dict.fromkeys(json.loads(line)["prompt"] for line in path.open() if line.strip()))
        random.Random(seed).shuffle(prompts)
        out[name] = prompts[:per_file]
    if not out:
        raise SystemExit(f"no shared datasets found in {data_dir}")
    return out


def bucket_prompts(texts: dict[str, list[str]], encoder, per_bucket: int) -> dict[str, list[tuple[str, int]]]:
    """(prompt, token count) pairs per length bucket, mixed across datasets."""
    tok = encoder._tokenizer
    buckets = {k: [] for k in BUCKETS}
    pool = [t for file in texts.values() for t in file]
    random.Random(1).shuffle(pool)
    for text in pool:
        n = len(tok.encode(text, add_special_tokens=False).ids)
        for name, (lo, hi) in BUCKETS.items():
            if lo <= n <= hi and len(buckets[name]) < per_bucket:
                buckets[name].append((text, n))
    for name, items in buckets.items():
        if not items:
            raise SystemExit(f"no prompt of {BUCKETS[name]} tokens found for the {name} bucket")
    return buckets


def artifact_dir(smoke: bool) -> Path:
    """Trained routers for the benchmark live in the tier-router cache, not in the repository."""
    return cache_dir("bench-routers", "smoke" if smoke else "full")


def ensure_artifacts(data_dir: str, folder: Path, smoke: bool) -> dict[str, str]:
    """kNN and logistic artifacts trained on GSM8K with `tier-router train` (reused when present)."""
    name = "routellm_mtbench.jsonl" if smoke else "routellm_gsm8k.jsonl"
    data = f"{Path(data_dir) / name},mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind in ("knn", "logistic"):
        path = folder / f"{kind}.npz"
        if not path.exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "serve_app.cli",
                    "train",
                    data,
                    "--kind",
                    kind,
                    "--out",
                    str(path),
                    "--no-report",
                    "--quiet",
                ],
                check=True,
            )
        out[kind] = str(path)
    return out


def build_core(strategy: str, encoder, artifacts: dict[str, str], cache_size: int):
    from serve_app.routing.policy import RouterPolicy
    from serve_app.routing.router_core import RouterCore

    spec = {"name": strategy}
    if strategy in artifacts:
        spec["artifact"] = artifacts[strategy]
    core = RouterCore(lambda: encoder)
    core.apply(RouterPolicy.model_validate({"strategy": spec, "cache_size": cache_size}))
    return core


def _messages(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def measure_single(core, prompts: list[tuple[str, int]], n: int) -> dict:
    """Wall and CPU (thread) time of `core.route` for one prompt at a time, cache off."""
    core.route(_messages(prompts[0][0]))  # warm-up
    wall, cpu = [], []
    for i in range(n):
        msgs = _messages(prompts[i % len(prompts)][0])
        w0, c0 = time.perf_counter(), time.thread_time()
        core.route(msgs)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    s = summarize(wall)
    return {"p50_ms": s.p50, "p99_ms": s.p99, "mean_ms": s.mean, "cpu_ms": float(np.mean(cpu))}


def measure_batch(core, prompts: list[tuple[str, int]], batch: int, batches: int) -> float:
    """Prompts per second when `batch` prompts are scored in one call."""
    texts = [prompts[i % len(prompts)][0] for i in range(batch)]
    start = time.perf_counter()
    for _ in range(batches):
        core.score(texts)
    return batch * batches / (time.perf_counter() - start)


def measure_cache_hit(core, n: int) -> dict:
    msgs = _messages("What is the capital of France?")
    core.route(msgs)
    wall = []
    for _ in range(n):
        t0 = time.perf_counter()
        core.route(msgs)
        wall.append((time.perf_counter() - t0) * 1000)
    s = summarize(wall)
    return {"p50_ms": s.p50, "p99_ms": s.p99, "mean_ms": s.mean, "count": s.count}


def agreement(data_dir: str, torch_enc, onnx_enc, per_file: int) -> list[dict]:
    """Cosine of the two backends' embeddings and agreement of exemplar decisions (threshold 4)."""
    from serve_app.routing.strategies import ExemplarScorer, ExemplarStrategyConfig

    cfg = ExemplarStrategyConfig()
    scorers = ExemplarScorer(cfg, torch_enc), ExemplarScorer(cfg, onnx_enc)
    rows = []
    for name, texts in load_prompts(data_dir, per_file, seed=2).items():
        a, b = torch_enc.encode(texts), onnx_enc.encode(texts)
        cos = (a * b).sum(axis=1)
        sa, sb = np.array(scorers[0].score_vectors(a)), np.array(scorers[1].score_vectors(b))
        rows.append(
            {
                "dataset": name,
                "prompts": len(texts),
                "cos_min": float(cos.min()),
                "cos_mean": float(cos.mean()),
                "agree": float(np.mean((sa > DEFAULT_THRESHOLD) == (sb > DEFAULT_THRESHOLD))),
                "score_diff": float(np.abs(sa - sb).mean()),
            }
        )
    return rows


def profile_scoring(core, prompts: list[tuple[str, int]], n: int, top: int = 14) -> str:
    """cProfile of single-prompt routing: the functions that take the time."""
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        core.route(_messages(prompts[i % len(prompts)][0]))
    prof.disable()
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("tottime").print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    inference = sum(
        tt
        for (file, _, func), (_, _, tt, _, _) in stats.stats.items()
        if "run" in func and ("onnxruntime" in func or "onnxruntime" in file or "torch" in file)
    )
    share = inference / stats.total_tt if stats.total_tt else float("nan")
    text = "\n".join(_shorten(ln) for ln in lines[start:])
    return f"share of routing time inside the model runtime's own calls: {100 * share:.0f}%\n{text}"


def _shorten(line: str) -> str:
    """Drop the machine's install prefix from file names in a profile line."""
    for marker in ("site-packages/", "serve_app/", "lib/python3"):
        idx = line.find(marker)
        if idx >= 0:
            return line[: line.rfind(" ", 0, idx) + 1] + line[idx:]
    return line
