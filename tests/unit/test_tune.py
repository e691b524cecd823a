"""`tune`: joint threshold selection on tiny synthetic sets, intervals, curves, and config writing."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import yaml

from serve_app.cascade.policy import CascadePolicy
from serve_app.config_writer import write_settings
from serve_app.evaluation.joint import NEVER, OperatingPoint, frontier, outcome, select
from serve_app.evaluation.tune import TuneSet, bootstrap, choose, curves, mix_point, search
from serve_app.evaluation.tune_report import summary
from serve_app.routing.policy import RouterPolicy

ROOT = Path(__file__).resolve().parents[2]


def labelled():
    # 4 prompts: route scores, confidences, small grades, large scores
    return TuneSet.build("lab", [1, 2, 8, 9], [0.9, 0.1, 0.8, 0.2], small=[1, 0, 0, 0], large=[1, 1, 1, 0])


def test_outcome_counts_routed_and_escalated():
    s = labelled()
    p = mix_point([s], 5.0, 0.5)  # 8, 9 routed; of 1, 2 the 0.1 escalates
    assert (p.share, p.routed, p.escalated) == (0.75, 0.5, 0.25)
    assert p.quality == pytest.approx((1 + 1 + 1 + 0) / 4)
    never = mix_point([s], NEVER, -NEVER)
    assert never.share == 0.0 and never.quality == 0.25
    assert outcome(s.route, s.confidence, 5.0, 0.5, s.small, s.large).share == 0.75


def test_select_best_quality_within_share_and_smallest_share_for_floor():
    points = [
        OperatingPoint(0, 0, 0.2, 0.1, 0.1, 0.5),
        OperatingPoint(1, 0, 0.3, 0.3, 0.0, 0.6),
        OperatingPoint(2, 0, 0.3, 0.0, 0.3, 0.7),
        OperatingPoint(3, 0, 0.5, 0.2, 0.3, 0.9),
    ]
    assert select(points, target_share=0.3).route_threshold == 2
    assert select(points, quality_floor=0.6).route_threshold == 2  # smallest share, then best quality
    with pytest.raises(ValueError):
        select(points, target_share=0.1)
    with pytest.raises(ValueError):
        select(points, target_share=0.3, quality_floor=0.5)
    assert [p.route_threshold for p in frontier(points)] == [0, 2, 3]


def test_search_and_choose_on_a_mix_weight_sets_equally():
    lab = labelled()
    traffic = TuneSet.build("traffic", [9, 9, 1, 1, 1, 1, 1, 1], [0.9] * 8)  # 25% routed at any t < 9
    grid = search([lab, traffic], steps=5)
    point = choose(grid.points, target_share=0.5)
    assert point.share <= 0.5
    # the mix share is the mean of the two sets' shares
    both = (
        mix_point([lab], point.route_threshold, point.cascade_threshold).share
        + mix_point([traffic], point.route_threshold, point.cascade_threshold).share
    ) / 2
    assert point.share == pytest.approx(both)
    assert point.quality == mix_point([lab], point.route_threshold, point.cascade_threshold).quality
    # the best point here escalates lab's wrong 0.1 answer and routes lab's 8 (right on large)
    assert point.quality >= 0.75


def test_choose_without_labels_splits_the_share():
    traffic = TuneSet.build("t", np.arange(100) / 10.0, np.linspace(0, 1, 100))
    grid = search([traffic], steps=21)
    point = choose(grid.points, target_share=0.3, cascade_part=0.5)
    assert 0.26 <= point.share <= 0.3
    assert abs(point.escalated - point.routed) <= 0.06
    cascade_only = choose(grid.points, target_share=0.3, cascade_part=1.0)
    assert cascade_only.routed <= 0.02


def test_bootstrap_intervals_bracket_the_point_and_curves_are_monotone():
    rng = np.random.default_rng(0)
    n = 300
    small = (rng.random(n) < 0.3).astype(float)
    s = TuneSet.build("lab", rng.random(n) * 10, small * 0.4 + rng.random(n) * 0.6, small=small, large=np.ones(n))
    point = mix_point([s], 7.0, 0.3)
    ci = bootstrap([s], 7.0, 0.3, boots=200)
    assert ci["share"][0] <= point.share <= ci["share"][1]
    assert ci["quality"][0] <= point.quality <= ci["quality"][1]
    c = curves([s], search([s], steps=11))
    assert set(c) == {"router alone", "cascade alone", "router + cascade"}
    front = c["router + cascade"]
    assert all(b.quality > a.quality for a, b in zip(front, front[1:], strict=False))
    assert front[-1].quality >= max(p.quality for p in c["cascade alone"]) - 1e-12


def test_summary_reports_split_per_set():
    lab, traffic = labelled(), TuneSet.build("traffic", [9, 1], [0.9, 0.9])
    point = mix_point([lab, traffic], 5.0, 0.5)
    args = argparse.Namespace(target_share=0.5, quality_floor=None)
    out = summary([lab, traffic], point, {"share": (0.1, 0.9), "quality": (0.5, 1.0)}, "first_prob", "exemplar", args)
    assert out["sets"]["traffic"] == {
        "prompts": 2,
        "weight": 1.0,
        "share_to_large": 0.5,
        "routed": 0.5,
        "escalated": 0.0,
        "quality": None,
    }
    assert out["share_to_large"] == pytest.approx(0.625)


def test_search_offers_only_thresholds_the_config_holds():
    s = TuneSet.build("lab", [0, 3, 10], [None, 0.0, 1.0], small=[1, 1, 1], large=[1, 1, 1])
    grid = search([s], steps=5)
    assert grid.routes.min() == 0.0 and grid.routes.max() == 10.0  # not -1e-9 or inf
    assert grid.confs.min() == 0.0 and np.all(np.isfinite(grid.confs))  # not -inf
    for p in grid.points:
        RouterPolicy(threshold=p.route_threshold)
        CascadePolicy(threshold=p.cascade_threshold)
    assert search([s], steps=5, cascade=False).confs.tolist() == [-NEVER]  # written as mode route_only


def test_a_cascade_threshold_of_0_is_chosen_with_its_serving_meaning():
    """-inf would escalate nothing, not even a missing confidence; the config's floor 0 (serving
    escalates a missing confidence at any threshold) escalates the missing ones. With answers equal
    on both tiers the cheapest point wins: tune used to pick -inf (share 0) and write 0 (share 0.5)."""
    s = TuneSet.build("lab", [1, 1, 1, 1], [None, None, 0.9, 0.8], small=[1, 1, 1, 1], large=[1, 1, 1, 1])
    point = choose(search([s], steps=5).points, target_share=0.5)
    assert point.cascade_threshold == 0.0 and point.route_threshold >= 1
    assert (point.share, point.escalated) == (0.5, 0.5)  # the missing ones, as serving escalates them
    args = argparse.Namespace(target_share=0.5, quality_floor=None)
    written = summary([s], point, {"share": (0.5, 0.5)}, "m", "s", args)["cascade_threshold"]
    assert mix_point([s], point.route_threshold, written) == point
    # without missing confidences (real ones are >= 0), 0 decides exactly as -inf does
    full = TuneSet.build("full", [1, 1, 1], [0.0, 0.5, 0.9], small=[1, 1, 1], large=[1, 1, 1])
    never = mix_point([full], NEVER, -NEVER)
    assert mix_point([full], NEVER, 0.0).share == never.share == 0.0


def test_write_settings_keeps_comments_and_validates(tmp_path):
    path = tmp_path / "cpu.yaml"
    path.write_text((ROOT / "deployments" / "cpu.yaml").read_text())
    apps = write_settings(
        path,
        {
            ("router", "policy", "threshold"): 6.5,
            ("ingress", "cascade", "threshold"): 0.25,
            ("ingress", "cascade", "method"): "first_prob",
        },
    )
    text = path.read_text()
    assert apps == ["tier-router"] and "# tier-router, CPU default profile" in text and "*cpu_engine" in text
    assert "placement_group_config: {bundles: [{CPU: 1}]}" in text  # flow style kept as written
    args = yaml.safe_load(text)["applications"][0]["args"]
    assert args["router"]["policy"]["threshold"] == 6.5
    assert args["ingress"]["cascade"] == {**args["ingress"]["cascade"], "threshold": 0.25, "method": "first_prob"}
    with pytest.raises(ValueError):
        write_settings(path, {("ingress", "cascade", "method"): "nope"})
    assert yaml.safe_load(path.read_text())["applications"][0]["args"]["ingress"]["cascade"]["method"] == "first_prob"


def test_calibrated_policy_needs_a_loadable_file(tmp_path):
    with pytest.raises(ValueError, match="calibration_file"):
        CascadePolicy(method="calibrated", calibration_file=str(tmp_path / "missing.json"))


def test_serve_tier_command_uses_the_tiers_engine_settings(monkeypatch):
    from serve_app.evaluation import tier_server

    assert tier_server.engine_flags({"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "x": False}) == [
        "--dtype",
        "float32",
        "--max-model-len",
        "2048",
        "--enforce-eager",
    ]
    monkeypatch.setattr("serve_app.model_prep.ensure_converted", lambda source: "/models/smollm2")
    argv, env = tier_server.command(str(ROOT / "deployments" / "cpu.yaml"), "small", 8100, 1)
    assert argv[argv.index("--model") + 1] == "/models/smollm2" and "--enforce-eager" in argv
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and argv[argv.index("--served-model-name") + 1] == "small"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1" and env["OMP_NUM_THREADS"] == "1" and env["HF_HUB_OFFLINE"] == "1"


def test_each_set_keeps_every_set_within_the_target():
    lab = labelled()
    heavy = TuneSet.build("heavy", [9, 9, 9, 1], [0.9] * 4)  # routes 75% at any threshold below 9
    grid = search([lab, heavy], steps=5)
    loose = choose(grid.points, target_share=0.4)
    strict = choose(grid.points, target_share=0.4, each_set=True)
    assert loose.worst_share > 0.4 >= loose.share
    assert strict.worst_share <= 0.4


def test_tune_write_sets_both_thresholds_or_route_only(tmp_path):
    from serve_app.evaluation.tune_command import _write

    path = tmp_path / "gpu.yaml"
    path.write_text((ROOT / "deployments" / "gpu.yaml").read_text())
    args = argparse.Namespace(config=str(path), app=None, no_cascade=True, method=None)
    _write(args, {"route_threshold": 6.9, "cascade_threshold": None})
    cascade = yaml.safe_load(path.read_text())["applications"][0]["args"]["ingress"]["cascade"]
    assert cascade["mode"] == "route_only" and "threshold" not in cascade
    args.no_cascade, args.method = False, "min_prob"
    _write(args, {"route_threshold": 6.5, "cascade_threshold": 0.12})
    app = yaml.safe_load(path.read_text())["applications"][0]["args"]
    assert app["router"]["policy"]["threshold"] == 6.5
    assert app["ingress"]["cascade"]["threshold"] == 0.12 and app["ingress"]["cascade"]["method"] == "min_prob"


def test_benchmarks_sections_are_rewritten_in_place(tmp_path):
    from serve_app.evaluation.cascade_benchmarks import TUNE_SECTION, tune_section, write_section

    lab, traffic = labelled(), TuneSet.build("traffic", [9, 1], [0.9, 0.9])
    point = mix_point([lab, traffic], 5.0, 0.5)
    args = argparse.Namespace(target_share=0.5, quality_floor=None)
    result = summary([lab, traffic], point, {"share": (0.1, 0.9), "quality": (0.5, 1.0)}, "min_prob", "exemplar", args)
    doc = tmp_path / "B.md"
    doc.write_text("# Benchmarks\n\nhand-written\n")
    write_section(str(doc), TUNE_SECTION, tune_section(result, None))
    first = doc.read_text()
    assert "hand-written" in first and "at most 50% of traffic reaching large" in first
    assert "| traffic | 2 | 50.0% | 50.0% | 0.0% | - |" in first
    write_section(str(doc), TUNE_SECTION, tune_section(result, None))
    assert doc.read_text().count("## Operating point") == 1
