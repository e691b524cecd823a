"""The benchmarks' shared run loops and verdicts, without Ray or models: the closed loop and its
bounds, timed handle calls, interleaved rounds, the graph bar for both router placements, the
batch-setting pick and the GEMM benchmark's arithmetic."""

import asyncio

import pytest

from bench import gemm_peak, graph_overhead, router_batching
from bench.loadgen import LoadResult, Sample, closed_loop, interleaved, timed
from bench.serving_report import graph_bar_rows


def test_closed_loop_stops_at_max_requests_and_at_the_deadline():
    seen = []

    async def call(i):
        seen.append(i)
        await asyncio.sleep(0.001)
        return Sample(0.001, 200)

    res = asyncio.run(closed_loop(call, 3, 10, 30.0))
    assert sorted(seen) == list(range(10)) and len(res.samples) == 10 and res.concurrency == 3

    async def slow(i):
        await asyncio.sleep(0.05)
        return Sample(0.05, 200)

    res = asyncio.run(closed_loop(slow, 2, 10_000, 0.12))
    assert 2 <= len(res.samples) <= 8  # the deadline, not max_requests, ended it
    with pytest.raises(ValueError):
        asyncio.run(closed_loop(call, 0, 10, 1.0))


def test_timed_counts_a_raising_call_as_an_error():
    async def ok():
        return 1

    async def boom():
        raise RuntimeError("no replica")

    good, bad = asyncio.run(timed(ok)), asyncio.run(timed(boom))
    assert good.status == 200 and good.error is None
    assert bad.status == 0 and bad.error == "RuntimeError"
    res = LoadResult(1, 1.0, [good, bad]).summary()
    assert res["ok"] == 1 and res["errors"] == 1


def test_interleaved_rotates_the_order_and_merges_rounds():
    order = []

    async def run(name, level, tag):
        order.append((name, level))
        return LoadResult(level, 1.0, [Sample(0.01 * (1 + len(order)), 200)])

    merged = asyncio.run(interleaved(run, ["a", "b", "c"], [1, 4], 2))
    assert order[:3] == [("a", 1), ("b", 1), ("c", 1)]
    assert order[6:9] == [("b", 1), ("c", 1), ("a", 1)]  # round 2 starts one further on
    assert set(merged) == {(n, lv) for n in "abc" for lv in (1, 4)}
    assert all(len(r.samples) == 2 and r.wall_s == 2.0 for r in merged.values())


def _row(path, level, p50):
    return {"path": path, "concurrency": level, "p50_ms": p50, "added_p50_ms": p50 - 10.0}


def test_graph_bar_judges_both_router_placements():
    p50 = {"direct": 10, "ray-openai": 20, "tr-auto-ro": 35, "tr-auto": 36, "tr-ip-ro": 28}
    checks = graph_overhead.verdict([_row(p, 32, v) for p, v in p50.items()])
    (c,) = checks
    assert c["allowed_p50_ms"] == 20 and not c["met"] and c["ip_met"]
    assert c["router_hop_p50_ms"] == 7
    rows = graph_bar_rows({"bar": checks})
    assert rows[0][3] == "missed by 5.0 ms" and rows[1][0].endswith("router in-process") and rows[1][3] == "met"
    old = {k: v for k, v in c.items() if k != "ip_met"}  # a result from before the in-process path
    assert len(graph_bar_rows({"bar": [old]})) == 1


def test_batch_pick_keeps_lone_requests_fast():
    def row(setting, level, p50, p99):
        return {"setting": setting, "concurrency": level, "p50_ms": p50, "p99_ms": p99}

    rows = [
        row("b1-w0ms", 1, 10.0, 12.0),
        row("b32-w0ms", 1, 8.0, 12.0),  # the same work as b1-w0ms with one caller: faster only by noise
        row("b32-w10ms", 1, 20.0, 22.0),  # best under load, but doubles a lone request's latency
        row("b8-w2ms", 1, 10.5, 13.0),
        row("b1-w0ms", 32, 300.0, 600.0),
        row("b32-w0ms", 32, 400.0, 700.0),
        row("b32-w10ms", 32, 100.0, 150.0),
        row("b8-w2ms", 32, 150.0, 250.0),
    ]
    assert router_batching.pick(rows, "b1-w0ms") == "b8-w2ms"
    assert router_batching.pick(rows, "b32-w10ms") == "b32-w10ms"
    close = [dict(r, p99_ms=560.0) if r["setting"] == "b8-w2ms" and r["concurrency"] == 32 else r for r in rows]
    assert router_batching.pick(close, "b1-w0ms") == "b1-w0ms"  # 7% better at p99 is within noise: kept
    assert router_batching.shipped() == "b1-w0ms"  # RouterPolicy's defaults, as measured


def test_minilm_dense_multiply_adds_for_60_tokens():
    assert gemm_peak.minilm_macs() == 6 * 62 * (4 * 384 * 384 + 2 * 384 * 1536)
    rows = [
        {"kind": "int8", "shape": s, "macs": m * k * n, "cpu_ms": 1.0, "best_ms": 0.5}
        for s, (m, k, n) in gemm_peak.SHAPES.items()
    ]
    (est,) = gemm_peak.minilm_estimate(rows)
    assert est["dense_ms"] == 6 * 6.0  # 6 GEMMs a layer at 1 ms each
    assert est["peak"] == pytest.approx(512 * 1024 * 1024 / 0.5 / 1e6)
