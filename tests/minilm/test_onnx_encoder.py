"""The int8 ONNX MiniLM backend against the fp32 torch model, and the router benchmark's --smoke run."""

import json
import subprocess
import sys

import numpy as np
import pytest

from serve_app.routing.encoder import MiniLMEncoder, make_encoder
from tests.conftest import ROOT, SHARED_DATA

PROMPTS = [
    "What is Python?",
    "hi",
    "Prove that there are infinitely many primes, then generalise the argument.",
    "Refactor this recursive algorithm to iterative with O(1) space " * 20,
]


def test_onnx_int8_embeddings_agree_with_fp32():
    onnx = make_encoder("onnx-int8")
    a, b = onnx.encode(PROMPTS), MiniLMEncoder().encode(PROMPTS)
    assert a.shape == b.shape == (len(PROMPTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert ((a * b).sum(axis=1) > 0.99).all()
    assert onnx.encode([]).shape == (0, 384)


@pytest.mark.skipif(not (SHARED_DATA / "routellm_mtbench.jsonl").exists(), reason="shared data not present")
def test_router_benchmark_smoke(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.router_overhead", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads((tmp_path / "router.json").read_text())
    assert {r["strategy"] for r in result["latency"]} == {"length", "exemplar", "knn", "logistic"}
    assert result["machine"]["cpu_model"]
