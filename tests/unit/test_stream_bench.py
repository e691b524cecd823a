"""The streaming-cascade benchmarks' arithmetic, without Ray or models: the TTFT bars from client
timings, and the prefix curve on a small synthetic answer cache."""

import json
import math

import pytest

from bench.stream_cascade import cases, render, summarise


def sample(ttft, step=0.01, tier="small"):
    return {"ttft": ttft, "times": [ttft + i * step for i in range(8)], "tier": tier}


def test_ttft_bars_compare_each_case_with_the_direct_tiers(tmp_path):
    ks = [1, 4, 8]
    samples = {name: [sample(0.1)] for name, _, _ in cases(ks)}
    samples["large direct"] = [sample(0.2, tier="large")]
    samples["auto prefix k=4, kept"] = [sample(0.16)]  # 1.6x small: over the bar
    samples["auto prefix k=4, escalated"] = [sample(0.33, tier="large")]  # small to 4th token 0.13 + large 0.2
    summary = summarise(samples, ks)
    bars = {b["k"]: b for b in summary["bars"]}
    assert bars[1]["kept_met"] and bars[1]["escalated_met"]
    assert not bars[4]["kept_met"]
    assert bars[4]["small_to_k_ms"] == pytest.approx(130) and bars[4]["escalated_met"]
    assert bars[4]["escalated_bar_ms"] == pytest.approx(330)

    config = tmp_path / "serve.yaml"  # a config that ships k=4; the policy default (8) is labelled as such
    config.write_text("applications:\n  - args:\n      ingress:\n        cascade: {prefix_tokens: 4}\n")

    class Args:
        prompts, max_tokens, rounds = 1, 8, 1

    Args.config = str(config)
    rows = {line.split(" | ")[0]: line for line in render(summary, Args).splitlines() if line.startswith("| ")}
    assert "missed" in rows["| 4 (serve.yaml)"] and "| 8 (policy default)" in rows and "| 1" in rows


def test_prefix_curve_on_a_synthetic_cache(tmp_path):
    pytest.importorskip("serve_app.cascade.signals", reason="needs the cascade evaluation (eval-cascade)")
    from bench.prefix_curve import load_answers, measure

    rows, gold, lines = {}, {}, []
    for i in range(40):
        right = i % 2 == 0
        p_first = 0.9 if right else 0.4  # the first token carries the signal, later ones do not
        tokens = [("A" if right else "B", p_first), (".", 0.5), *((f" w{j}", 0.5) for j in range(10))]
        content = [
            {"token": t, "logprob": math.log(p), "top_logprobs": [{"token": t, "logprob": math.log(p)}]}
            for t, p in tokens
        ]
        rows[f"q{i}"] = {"id": f"q{i}", "prompt": "A. x\nB. y\nC. z\nD. w", "scores": {"big": 1.0}}
        gold[f"q{i}"] = "A"
        lines.append(
            {
                "key": str(i),
                "kind": "answer",
                "id": f"q{i}",
                "response": {"content": "".join(t for t, _ in tokens), "logprobs": {"content": content}},
            }
        )
    cache = tmp_path / "cache.jsonl"
    cache.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    data = measure(load_answers(cache), rows, gold, "big", [1, 4], threshold=0.7)
    assert data["n"] == 40 and data["small_accuracy"] == 0.5
    auroc = {(r["signal"], r["k"]): r["auroc"] for r in data["rows"]}
    assert auroc["mean_prob", 1] == 1.0 and auroc["mean_prob", None] == 1.0  # the first token decides alone
    at = {r["k"]: r for r in data["at_threshold"]}
    assert at[None]["agrees_with_whole"] == 1.0 and 0 <= at[1]["agrees_with_whole"] <= 1
    assert 0 <= at[1]["matched_agrees"] <= 1 and at[None]["matched_agrees"] == 1.0
