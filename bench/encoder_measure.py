"""Measurements behind bench/encoder_runtimes.py: interleaved latency, long prompts, agreement."""

import time

import numpy as np

from bench.router_measure import load_prompts
from bench.stats import summarize
from serve_app.routing.policy import DEFAULT_THRESHOLD

QUANTILES = (50, 70, 90)  # agreement also at these quantiles of the fp32 scores (thresholds move)


class SentenceTransformersEncoder:
    """Today's default path (sentence-transformers fp32, truncates at 256), for comparison only."""

    runtime_id, kernels, long_prompts = "st-torch (before)", "sentence-transformers on torch fp32", "truncate"

    def __init__(self):
        import torch
        from sentence_transformers import SentenceTransformer

        from serve_app.routing.weights import packaged_minilm_path

        torch.set_num_threads(1)
        self._model = SentenceTransformer(str(packaged_minilm_path()), device="cpu", local_files_only=True)
        self.dimension = 384

    def encode(self, texts):
        return self._model.encode(
            list(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        ).astype(np.float32)


def pick_by_tokens(texts: list[str], counter, lo: int, hi: int, n: int) -> list[str]:
    """Up to n texts whose text-token count is in [lo, hi]."""
    counts = counter(texts)
    return [t for t, c in zip(texts, counts, strict=True) if lo <= c <= hi][:n]


def interleaved(cores: dict, prompts: list[str], n: int) -> dict[str, dict]:
    """Wall and CPU ms per single-prompt `route` for each core, round-robin so load hits all alike."""
    wall = {k: [] for k in cores}
    cpu = {k: [] for k in cores}
    for core in cores.values():
        core.route([{"role": "user", "content": prompts[0]}])  # warm-up
    for i in range(n):
        msgs = [{"role": "user", "content": prompts[i % len(prompts)]}]
        for name, core in cores.items():
            w0, c0 = time.perf_counter(), time.process_time()
            core.route(msgs)
            cpu[name].append((time.process_time() - c0) * 1000)
            wall[name].append((time.perf_counter() - w0) * 1000)
    out = {}
    for name in cores:
        w, c = summarize(wall[name]), summarize(cpu[name])
        out[name] = {"p50_ms": w.p50, "p99_ms": w.p99, "cpu_p50_ms": c.p50, "cpu_p99_ms": c.p99}
    return out


def agreement(data_dir: str, reference, encoders: dict, per_file: int) -> list[dict]:
    """Per dataset and backend: cosine to the fp32 reference, and the share of identical exemplar
    decisions at the shipped threshold and at quantiles of the reference's scores."""
    from serve_app.routing.strategies import ExemplarScorer, ExemplarStrategyConfig

    cfg = ExemplarStrategyConfig()
    rows = []
    for dataset, texts in load_prompts(data_dir, per_file, seed=2).items():
        ref = reference.encode(texts)
        ref_scores = np.array(ExemplarScorer(cfg, reference).score_vectors(ref))
        cuts = {"4.0": DEFAULT_THRESHOLD, **{f"q{q}": float(np.percentile(ref_scores, q)) for q in QUANTILES}}
        for name, enc in encoders.items():
            vec = enc.encode(texts)
            scores = np.array(ExemplarScorer(cfg, enc).score_vectors(vec))
            cos = (vec * ref).sum(axis=1)
            rows.append(
                {
                    "dataset": dataset,
                    "backend": name,
                    "prompts": len(texts),
                    "cos_min": float(cos.min()),
                    "cos_mean": float(cos.mean()),
                    "agree": {k: float(np.mean((scores > t) == (ref_scores > t))) for k, t in cuts.items()},
                    "thresholds": cuts,
                    "score_diff": float(np.abs(scores - ref_scores).mean()),
                }
            )
    return rows
