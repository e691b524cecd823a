"""Serving-benchmark code without Ray or models: statistics, reports, the bounded load generator
(on an in-memory transport), the cost model, ONNX pooling, and the cost command's --smoke run."""

import asyncio
import json
import subprocess
import sys

import httpx
import numpy as np
import pytest
from pydantic import ValidationError

from bench.cost_model import CostModel, compare, scenario
from bench.loadgen import check_loopback, run_load
from bench.report import machine_info, markdown_table, replace_section
from bench.stats import percentile, summarize
from serve_app.routing.onnx_encoder import mean_pool
from tests.conftest import ROOT


def test_percentiles_and_summary():
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile([], 50) != percentile([], 50)  # NaN
    s = summarize(values)
    assert s.count == 100 and s.p99 == pytest.approx(99.01) and s.mean == pytest.approx(50.5)


def test_replace_section_only_touches_its_own_section():
    text = "# T\n\nintro\n\n## Routing quality\n\nA\n\n## Serving benchmarks\n\nold\n\n## Later\n\nB\n"
    out = replace_section(text, "new body")
    assert "old" not in out and "new body" in out
    assert out.startswith("# T\n\nintro\n\n## Routing quality\n\nA\n\n") and out.endswith("## Later\n\nB\n")
    appended = replace_section("# T\n", "body")
    assert appended == "# T\n\n## Serving benchmarks\n\nbody\n"
    assert replace_section(appended, "body") == appended
    marked = "## Serving benchmarks\n\nold\n<!-- other:start -->\nX\n<!-- other:end -->\n"
    assert (
        replace_section(marked, "new")
        == "## Serving benchmarks\n\nnew\n\n<!-- other:start -->\nX\n<!-- other:end -->\n"
    )


def test_markdown_table_and_machine_info():
    table = markdown_table(["a", "b"], [[1, 2.345], ["x", float("nan")]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2.35 |", "| x | - |"]
    info = machine_info()
    assert {"cpu_model", "logical_cores", "python", "versions"} <= set(info)


def _handler(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    text = body["messages"][0]["content"]
    tier, esc = ("large", "yes") if "hard" in text else ("small", "no")
    headers = {"x-tier-router-tier": tier, "x-tier-router-escalated": esc}
    if body.get("stream"):
        chunk = {"choices": [{"delta": {"content": "hi"}}]}
        sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
        return httpx.Response(200, headers=headers, content=sse.encode())
    return httpx.Response(200, headers=headers, json={"choices": []})


def test_load_generator_is_bounded_and_counts_tiers():
    client = httpx.AsyncClient(transport=httpx.MockTransport(_handler))

    def make(i):
        return {
            "model": "auto",
            "stream": i % 2 == 0,
            "messages": [{"role": "user", "content": "hard" if i % 4 == 0 else "easy"}],
        }

    res = asyncio.run(run_load("http://127.0.0.1:1/v1/chat/completions", make, 3, 12, 30.0, client=client))
    s = res.summary()
    assert s["requests"] == 12 and s["errors"] == 0
    assert s["tiers"] == {"large": 3, "small": 9}
    assert s["escalated"] == 3 and s["escalation_rate"] == pytest.approx(0.25)
    assert s["ttft_p50_ms"] == s["ttft_p50_ms"]  # streamed requests have a TTFT


def test_load_generator_refuses_non_loopback():
    with pytest.raises(ValueError):
        check_loopback("http://example.com/v1/chat/completions")
    check_loopback("http://127.0.0.1:8000/v1/chat/completions")


def _model() -> CostModel:
    tier = {"usd_per_gpu_hour": 1.0, "requests_per_s": 1.0, "p99_ms": 100, "quality": 50, "model": "s"}
    return CostModel.model_validate(
        {"small": tier, "large": {**tier, "usd_per_gpu_hour": 4.0, "quality": 80, "p99_ms": 300, "model": "l"}}
    )


def test_cost_model_against_all_large():
    rows = compare(_model(), large_share=0.25, escalation_rate=0.2)
    assert rows[0]["vs_all_large"] == 1.0 and rows[0]["quality"] == 80
    route_only, cascade = rows[1], rows[2]
    assert route_only["usd_per_month"] < cascade["usd_per_month"] < rows[0]["usd_per_month"]
    assert cascade["large_calls_per_request"] == pytest.approx(0.25 + 0.75 * 0.2)
    assert cascade["p99_ms_upper"] == 400  # an escalated request pays both tiers
    with pytest.raises(ValueError):
        scenario(_model(), 1.5, 0.0, "bad")
    with pytest.raises(ValidationError):
        CostModel.model_validate({"small": {}, "large": {}, "typo": 1})


def test_mean_pool_matches_masked_mean():
    hidden = np.array([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert np.allclose(mean_pool(hidden, mask), [[1.0, 0.0]])


def test_cost_command_smoke(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bench.cost", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "cost.json").read_text())["rows"][0]["scenario"] == "all large"


def test_encoder_backend_is_strictly_validated():
    from pydantic import ValidationError

    from serve_app.config import RouterConfig
    from serve_app.routing.encoder import make_encoder

    assert RouterConfig().encoder_backend == "torch"
    assert RouterConfig(encoder_backend="onnx-int8").encoder_backend == "onnx-int8"
    with pytest.raises(ValidationError):
        RouterConfig(encoder_backend="onnx")
    with pytest.raises(ValueError):
        make_encoder("tensorrt")


def test_one_price_file_serves_eval_metrics_and_the_monthly_model():
    from serve_app.costs import PriceFile

    prices = PriceFile.from_yaml(ROOT / "bench" / "costs.yaml")
    costs = prices.tier_costs()  # what `eval --costs`, eval-all and `ingress.costs` use
    assert costs.small.usd_per_gpu_hour == prices.small.usd_per_gpu_hour
    assert 0 < costs.small_over_large() < 1
    assert compare(prices, 0.3, 0.1)[0]["scenario"] == "all large"
    bare = PriceFile.model_validate(
        {"small": {"usd_per_gpu_hour": 1, "requests_per_s": 1}, "large": {"usd_per_gpu_hour": 4, "requests_per_s": 1}}
    )
    with pytest.raises(ValueError, match="p99_ms and quality"):
        scenario(bare, 0.3, 0.1, "no latency or quality")
