"""Calibration, the eval pipeline and the CLI commands on tiny synthetic files, fake encoder."""

import json

import numpy as np
import pytest

from serve_app.evaluation.calibrate import escalation_share, quantile_threshold, write_threshold
from serve_app.evaluation.dataset import load_labelled, parse_spec, read_prompts
from serve_app.evaluation.embeddings import EmbeddingStore, content_key
from serve_app.evaluation.evaluate import evaluate
from serve_app.evaluation.report import metrics_table, to_json
from serve_app.serve_config import load_yaml, tier_router_apps


class HashEncoder:
    """Deterministic 8-d unit vectors; 'hard' prompts share a direction."""

    calls = 0

    def encode(self, texts):
        HashEncoder.calls += 1
        rows = []
        for t in texts:
            v = np.random.default_rng(len(t)).normal(size=8)
            v[0] += 6.0 if "hard" in t else 0.0
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), 8)


def write_labelled(path, n=60):
    with open(path, "w") as f:
        for i in range(n):
            hard = i % 3 == 0
            row = {
                "id": str(i),
                "prompt": ("hard " if hard else "easy ") + "x" * i,
                "category": "c",
                "split": "test",
                "scores": {"weak": 0.0 if hard else 1.0, "strong": 1.0},
            }
            f.write(json.dumps(row) + "\n")
    return path


def test_quantile_threshold_hits_the_target_share():
    scores = np.arange(1, 101) / 10.1  # 0.1 .. 9.9
    for share in (0.0, 0.1, 0.25, 0.5, 1.0):
        t = quantile_threshold(scores, share)
        assert 0.0 <= t <= 10.0 and np.mean(scores > t) == pytest.approx(share)


def test_escalation_share_counts_small_routed_prompts_the_weak_model_gets_worse():
    out = escalation_share(np.array([9, 1, 1, 1]), np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]), 4.0)
    assert out == {"routed_large": 0.25, "escalated": 0.25, "large_calls_with_cascade": 0.5}


def test_write_threshold_keeps_comments_and_validates(tmp_path):
    config = tmp_path / "serve.yaml"
    config.write_text(
        "# my comment\napplications:\n  - name: app\n    import_path: serve_app.graph.builder:build_app\n"
        "    args:\n      router:\n        policy: {threshold: 4.0}\n      tiers:\n"
        "        small: &t {model_source: m, engine: echo}\n        large: *t\n"
    )
    assert write_threshold(config, 6.25) == ["app"]
    assert "# my comment" in config.read_text()
    assert tier_router_apps(load_yaml(config))[0].config.router.policy.threshold == 6.25
    with pytest.raises(ValueError):
        write_threshold(config, 6.25, app="other")


def test_embedding_cache_is_keyed_by_content(tmp_path):
    store = EmbeddingStore(HashEncoder, folder=tmp_path, progress=False)
    before = HashEncoder.calls
    a = store.embed(["one", "two"])
    b = store.embed(["one", "two"])
    assert np.array_equal(a, b) and HashEncoder.calls == before + 1
    assert content_key(["one", "two"]) != content_key(["one two"])


def test_evaluate_puts_learned_routers_next_to_baselines(tmp_path):
    data = load_labelled(write_labelled(tmp_path / "toy.jsonl"))
    assert (data.weak_model, data.strong_model) == ("weak", "strong")
    store = EmbeddingStore(HashEncoder, folder=tmp_path / "cache", progress=False)
    report = evaluate(data, store, learned=["knn", "logistic"], folds=3, cost_ratio=0.25, progress=False, k=5)
    apgr = {r.name: r.metrics["apgr"] for r in report.routers}
    assert set(apgr) == {"random", "length", "exemplar", "knn", "logistic", "oracle"}
    assert apgr["random"] == pytest.approx(0.5)
    assert apgr["knn"] > 0.8 and apgr["oracle"] >= apgr["knn"]
    assert report.protocol == "all 60 rows; knn, logistic within the dataset (3-fold cross-validation)"
    table = metrics_table(report)
    assert "| **knn** |" in table or "| **logistic** |" in table
    assert json.loads(json.dumps(to_json(report)))["routers"][0]["name"] == "random"


def test_cli_train_then_calibrate_writes_the_threshold(tmp_path, monkeypatch, capsys):
    from serve_app import cli
    from serve_app.evaluation import embeddings

    monkeypatch.setattr(embeddings, "default_encoder", lambda settings=None: HashEncoder())
    monkeypatch.setenv("TIER_ROUTER_CACHE_DIR", str(tmp_path / "cache"))
    data = write_labelled(tmp_path / "toy.jsonl")
    artifact = tmp_path / "knn.npz"
    assert cli.main(["train", str(data), "--kind", "knn", "--k", "5", "--out", str(artifact), "--quiet"]) == 0
    assert "held-out quality of knn" in capsys.readouterr().out
    strategy = json.dumps({"name": "knn", "artifact": str(artifact)})
    assert cli.main(["calibrate", str(data), "--share", "0.3", "--strategy", strategy, "--labels", "weak,strong"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["large_share"] == pytest.approx(1 / 3, abs=0.02)  # ties: the closest share there is
    assert result["cascade"]["escalated"] < 0.1


def test_quantile_threshold_keeps_ties_together():
    scores = np.array([0.0, 0.0, 5.0, 5.0, 5.0, 9.0])
    assert np.mean(scores > quantile_threshold(scores, 0.3)) == pytest.approx(1 / 6)
    assert np.mean(scores > quantile_threshold(scores, 0.6)) == pytest.approx(4 / 6)


def test_specs_and_prompt_files(tmp_path):
    assert parse_spec("a.jsonl") == ("a.jsonl", None, None)
    assert parse_spec("a.jsonl,w,s") == ("a.jsonl", "w", "s")
    with pytest.raises(ValueError):
        parse_spec("a.jsonl,w")
    text = tmp_path / "p.txt"
    text.write_text("first prompt\n\nsecond prompt\n")
    assert read_prompts(text) == ["first prompt", "second prompt"]


def test_eval_all_replaces_only_its_own_section(tmp_path):
    from serve_app.evaluation.suite import SECTION
    from serve_app.markdown_section import write_section

    path = tmp_path / "B.md"
    write_section(path, SECTION, "# routing v1", "tier-router eval-all", first=True)
    path.write_text(path.read_text() + "\n## Serving benchmarks\nkeep me\n")
    second = write_section(path, SECTION, "# routing v2", "tier-router eval-all", first=True).read_text()
    assert "routing v1" not in second and "# routing v2" in second
    assert second.count(f"<!-- {SECTION}:start") == 1 and second.count(f"<!-- {SECTION}:end -->") == 1
    assert second.endswith("## Serving benchmarks\nkeep me\n")
