"""Every MiniLM runtime against the fp32 reference, long prompts scored whole, and the router
benchmarks' --smoke runs."""

import json
import subprocess
import sys

import numpy as np
import pytest

from serve_app.routing.encoder import count_over_window
from serve_app.routing.encoder_registry import make_encoder, resolve
from tests.conftest import ROOT, SHARED_DATA

PROMPTS = [
    "What is Python?",
    "hi",
    "Prove that there are infinitely many primes, then generalise the argument.",
    "Refactor this recursive algorithm to iterative with O(1) space " * 20,
]
# A long prompt whose question comes after 254 tokens of boilerplate.
FILLER = "Please read the following terms and conditions carefully before answering. " * 30
QUESTIONS = ["What is the capital of France?", "Derive the Navier-Stokes equations from first principles."]


@pytest.fixture(scope="module")
def reference():
    return make_encoder("torch")


@pytest.mark.parametrize("backend", ["onnx-fp32", "openvino-bf16"])
def test_runtime_embeddings_match_fp32(reference, backend):
    if resolve(backend)[0] != backend:
        pytest.skip(f"{backend} cannot run here: {resolve(backend)[1]}")
    encoder = make_encoder(backend)
    a, b = encoder.encode(PROMPTS), reference.encode(PROMPTS)
    assert a.shape == b.shape == (len(PROMPTS), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert ((a * b).sum(axis=1) >= 0.999).all(), (a * b).sum(axis=1)
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.parametrize("backend,floor", [("onnx-int8", 0.99), ("onnx-vnni-int8", 0.97)])
def test_int8_runtimes_are_close_but_not_exact(reference, backend, floor):
    if resolve(backend)[0] != backend:
        pytest.skip(f"{backend} cannot run here: {resolve(backend)[1]}")
    cos = (make_encoder(backend).encode(PROMPTS) * reference.encode(PROMPTS)).sum(axis=1)
    assert (cos > floor).all(), cos


def test_batched_and_single_encoding_agree(reference):
    batch = reference.encode(PROMPTS + [FILLER + QUESTIONS[0]])
    single = np.stack([reference.encode([p])[0] for p in PROMPTS + [FILLER + QUESTIONS[0]]])
    assert np.allclose(batch, single, atol=1e-4)


def test_long_prompts_are_not_truncated():
    texts = [FILLER + q for q in QUESTIONS]
    assert count_over_window(texts) == 2 and count_over_window(PROMPTS[:3]) == 0
    truncate = make_encoder("onnx-fp32", long_prompts="truncate").encode(texts)
    assert float(truncate[0] @ truncate[1]) > 0.9999  # the question is cut away: identical vectors
    for policy in ("chunk_mean", "head_tail"):
        encoder = make_encoder("onnx-fp32", long_prompts=policy)
        whole = encoder.encode(texts)
        assert float(whole[0] @ whole[1]) < 0.99, policy  # the question counts
        assert encoder.texts_over_window == 2


@pytest.mark.skipif(not (SHARED_DATA / "routellm_mtbench.jsonl").exists(), reason="shared data not present")
@pytest.mark.parametrize(
    "module,result", [("bench.router_overhead", "router.json"), ("bench.encoder_runtimes", "encoders.json")]
)
def test_router_benchmark_smoke(tmp_path, module, result):
    out = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads((tmp_path / result).read_text())
    assert data["machine"]["cpu_model"] and data["latency"]
