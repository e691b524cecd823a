"""The evaluation CLI as a new user meets it: own-split files, missing scores, bad specs, honest
titles and labels, leave-one-dataset-out rows and bootstrap intervals (fake encoder, tiny files)."""

import json
import re

import numpy as np
import pytest

from serve_app import cli
from serve_app.evaluation import embeddings
from serve_app.evaluation.dataset import load_labelled
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.evaluation.evaluate import evaluate
from serve_app.evaluation.metrics import bootstrap_apgr, interval
from tests.unit.test_calibrate_and_eval import HashEncoder, write_labelled


@pytest.fixture
def fake_encoder(tmp_path, monkeypatch):
    """The CLI's encoder replaced by HashEncoder; `calls` counts encoder constructions."""
    built = []

    def factory():
        built.append(1)
        return HashEncoder()

    monkeypatch.setattr(embeddings, "default_encoder", factory)
    monkeypatch.setenv("TIER_ROUTER_CACHE_DIR", str(tmp_path / "cache"))
    return built


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def toy_rows(n=60, split=lambda i: "test", prefix=""):
    return [
        {
            "id": str(i),
            "prompt": prefix + ("hard " if i % 3 == 0 else "easy ") + "x" * i,
            "split": split(i),
            "scores": {"weak": 0.0 if i % 3 == 0 else 1.0, "strong": 1.0},
        }
        for i in range(n)
    ]


def test_eval_artifact_on_a_file_with_its_own_split(tmp_path, fake_encoder, capsys):
    data = write_rows(tmp_path / "split.jsonl", toy_rows(60, lambda i: "test" if i % 4 == 0 else "train"))
    artifact = tmp_path / "models" / "knn.npz"
    assert cli.main(["train", str(data), "--kind", "knn", "--k", "5", "--out", str(artifact), "--quiet"]) == 0
    out = tmp_path / "out"
    for learned in (["knn"], []):
        argv = ["eval", str(data), "--artifact", str(artifact), "--quiet", "--out", str(out), "--learned", *learned]
        assert cli.main(argv) == 0
        report = json.loads((out / "split.json").read_text())
        assert report["rows"] == 15  # the test split only, for every router
        names = [r["name"] for r in report["routers"]]
        assert "knn.npz" in names and not any(str(tmp_path) in n for n in names)


def test_missing_scores_name_the_flag_and_drop_missing_leaves_the_rows_out(tmp_path, fake_encoder, capsys):
    rows = toy_rows(30)
    del rows[4]["scores"]["strong"]
    rows[7]["scores"]["weak"] = None
    data = write_rows(tmp_path / "gaps.jsonl", rows)
    with pytest.raises(ValueError, match="--drop-missing"):
        load_labelled(data, "weak", "strong")
    with pytest.raises(SystemExit, match="--drop-missing"):
        cli.main(["eval", f"{data},weak,strong", "--learned", "--quiet", "--out", str(tmp_path / "o")])
    assert not fake_encoder  # refused before anything was embedded
    assert (
        cli.main(
            ["eval", f"{data},weak,strong", "--drop-missing", "--learned", "--quiet", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    assert "2 rows without both scores left out" in capsys.readouterr().out
    assert json.loads((tmp_path / "o" / "gaps.json").read_text())["rows"] == 28
    labelled = load_labelled(data, "weak", "strong", drop_missing=True)
    assert len(labelled) == 28 and labelled.dropped == 2


def test_bad_specs_are_refused_before_any_embedding_naming_real_options(tmp_path, fake_encoder):
    good = write_labelled(tmp_path / "good.jsonl")
    three = [dict(r, scores={**r["scores"], "third": 0.5}) for r in toy_rows(10)]
    three_models = write_rows(tmp_path / "three.jsonl", three)
    artifact = str(tmp_path / "knn.npz")
    bad = [
        ["train", str(good), f"{good},nobody,strong", "--out", artifact],
        ["train", str(good), str(three_models), "--out", artifact],
        ["train", str(good), str(tmp_path / "absent.jsonl"), "--out", artifact],
        ["eval", str(good), "--pool", f"{good},weak"],
        ["eval", str(good), "--artifact", str(tmp_path / "absent.npz")],
    ]
    for argv in bad:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv + ["--quiet"])
        message = str(exc.value)
        assert "--weak" not in message and "--strong" not in message, message
        assert "absent" in message or "PATH,WEAK_MODEL,STRONG_MODEL" in message, message
    assert not fake_encoder  # nothing was embedded before the refusal
    with pytest.raises(SystemExit, match="scores 'strong', 'third', 'weak'"):
        cli.main(["train", str(three_models), "--out", artifact, "--quiet"])


def test_artifacts_on_another_file_are_titled_by_what_was_done(tmp_path, fake_encoder, capsys):
    train_file = write_labelled(tmp_path / "a.jsonl")
    other = write_rows(tmp_path / "b.jsonl", toy_rows(45, prefix="q "))
    artifact = tmp_path / "routers" / "logistic.npz"
    assert (
        cli.main(["train", str(train_file), "--kind", "logistic", "--out", str(artifact), "--quiet", "--no-report"])
        == 0
    )
    capsys.readouterr()
    assert (
        cli.main(
            ["eval", str(other), "--artifact", str(artifact), "--learned", "--quiet", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    printed = capsys.readouterr().out
    heading = printed.splitlines()[0]
    assert "cross-validation" not in heading and "all 45 rows" in heading, heading
    assert "| logistic.npz |" in printed and str(tmp_path) not in printed.split("wrote")[0]
    # what the artifact was trained on, from its meta
    assert re.search(r"^\| (\*\*)?logistic\.npz(\*\*)? \| as trained, on a \|", printed, re.M), printed
    assert (
        cli.main(
            ["eval", str(train_file), "--artifact", str(artifact), "--learned", "--quiet", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    assert "as trained, on a (IN-SAMPLE: trained on these rows) |" in capsys.readouterr().out


def test_leave_one_dataset_out_rows_sit_beside_the_within_set_ones(tmp_path):
    store = EmbeddingStore(HashEncoder, folder=tmp_path / "cache", progress=False)
    target = load_labelled(write_labelled(tmp_path / "target.jsonl"))
    # the other file repeats every target prompt with the opposite label (must be dropped as a
    # near-duplicate, else kNN copies it) and adds fresh prompts labelled the right way round
    copies = [dict(r, scores={"weak": 1.0 - r["scores"]["weak"], "strong": 1.0}) for r in toy_rows(60)]
    fresh = toy_rows(90, prefix="z" * 100 + " ")
    other = load_labelled(write_rows(tmp_path / "other.jsonl", copies + fresh))
    report = evaluate(target, store, learned=["knn"], across=[other], folds=3, progress=False, k=5)
    by = {r.name: r for r in report.routers}
    assert {"knn", "knn (LODO)"} <= set(by)
    assert by["knn"].measured.startswith("within") and by["knn (LODO)"].measured == "across datasets: trained on other"
    assert by["knn (LODO)"].metrics["apgr"] > 0.8  # the inverted copies did not leak into training
    for name in ("length", "exemplar"):
        assert by[name].measured == "prompt only, no training"
    lo, hi = by["knn (LODO)"].metrics["apgr_ci"]
    assert lo <= by["knn (LODO)"].metrics["apgr"] <= hi


def test_eval_all_writes_within_and_across_results_with_intervals(tmp_path, monkeypatch):
    from serve_app.evaluation.suite import Suite, run_suite

    monkeypatch.setattr(embeddings, "default_encoder", lambda: HashEncoder())
    monkeypatch.setenv("TIER_ROUTER_CACHE_DIR", str(tmp_path / "cache"))
    files = [write_labelled(tmp_path / "one.jsonl"), write_rows(tmp_path / "two.jsonl", toy_rows(45, prefix="q "))]
    suite = Suite(
        datasets=[{"file": str(f)} for f in files],
        learned=["knn"],
        folds=3,
        out_dir=str(tmp_path / "results"),
        report=str(tmp_path / "BENCH.md"),
    )
    text = run_suite(suite, "suite.yaml", progress=False).read_text()
    assert "| dataset | random | length | exemplar | knn | knn (LODO) | oracle |" in text
    assert "within one dataset" in text and "across datasets" in text
    assert "across datasets: trained on two" in text and "across datasets: trained on one" in text
    assert "95% CI" in text and "[" in text


def test_bootstrap_interval_covers_the_estimate_and_pairs_routers():
    rng = np.random.default_rng(1)
    weak = rng.integers(0, 2, 400).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, 400))
    perfect, noise = strong - weak, rng.normal(size=400)
    a, b = bootstrap_apgr(perfect, weak, strong), bootstrap_apgr(noise, weak, strong)
    lo, hi = interval(a)
    assert lo < hi and lo > 0.8
    lo, hi = interval(b)
    assert lo < 0.5 < hi
    assert interval(a - b)[0] > 0  # same resamples for the same rows: differences pair up
    assert np.isnan(interval(np.full(10, np.nan))).all()
