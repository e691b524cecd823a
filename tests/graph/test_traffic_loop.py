"""The whole learning loop on a real local Ray Serve graph (echo tiers, real MiniLM router):
shadow on -> replayed traffic -> judge verdicts recorded -> export -> retrain -> gate, both ways:
a winning candidate is promoted and served (the router's strategy header changes), a candidate
that does not beat the running policy is refused and the config stays as it was."""

import json
import random

import httpx
import pytest
import yaml

from serve_app import headers as H
from serve_app.cli import main as cli
from serve_app.operations.shadow import ShadowStore
from serve_app.serve_config import BUILDER
from tests.graph.conftest import deploy
from tests.graph.test_operations import metrics_text, wait_for

PREFIX = "/loop"
# The judge (the echo large tier) prefers the large answer on proofs and calls support answers a tie.
HARD = [
    "Prove that the square root of {n} is irrational using contradiction",
    "Derive a closed form for the recurrence T(n) = 2T(n/2) + {n}n and prove it by induction",
    "Show that the series of 1/k^{n} converges and bound its tail rigorously",
    "Prove that every group of order {n} squared is abelian",
]
EASY = [
    "What time does store number {n} open on Sunday?",
    "How do I reset the password of account {n}?",
    "Where is my package with order number {n}?",
    "Can I change the delivery address of order {n}?",
]
FILLER = " Thanks in advance for your help."


def replay_prompts(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """(category, prompt) pairs; lengths vary at random, so prompt length says nothing about them."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        hard = i % 2 == 0
        text = rng.choice(HARD if hard else EASY).format(n=i + 2) + FILLER * rng.randint(0, 8)
        out.append(
            ("math" if hard else "support", text + (" __echo_prefer_large__" if hard else " __echo_prefer_tie__"))
        )
    return out


def write_serve_config(path, store, name="loop", prefix=PREFIX, route_threshold=3.0, cascade=None):
    tier = {"engine": "echo", "model_source": "echo", "engine_kwargs": {"max_model_len": 2000}}
    config = {
        "applications": [
            {
                "name": name,
                "route_prefix": prefix,
                "import_path": BUILDER,
                "args": {
                    "router": {
                        "policy": {"threshold": route_threshold, "strategy": {"name": "length", "words_at_max": 100}}
                    },
                    "ingress": {
                        "cascade": cascade or {"mode": "route_only"},
                        "shadow": {
                            "sample_rate": 1.0,
                            "max_in_flight": 8,
                            "store_prompts": True,
                            "store_path": str(store),
                            "judge": {"sample_rate": 1.0, "max_in_flight": 4, "calls_per_hour": 1000},
                        },
                    },
                    "tiers": {"small": tier, "large": tier},
                },
            }
        ]
    }
    path.write_text("# operator's serve config for the loop test\n" + yaml.safe_dump(config, sort_keys=False))


def app_args(path):
    return yaml.safe_load(path.read_text())["applications"][0]["args"]


def chat(url, content, category):
    r = httpx.post(
        f"{url}/v1/chat/completions",
        timeout=60,
        json={"model": "auto", "metadata": {"category": category}, "messages": [{"role": "user", "content": content}]},
    )
    assert r.status_code == 200, r.text
    return r


def judged(store_path) -> int:
    return sum(r["outcome"] is not None for r in ShadowStore(store_path, 10**9, False).rows())


@pytest.fixture(scope="module")
def loop(serve_port, tmp_path_factory):
    from ray import serve

    tmp = tmp_path_factory.mktemp("loop")
    config, store = tmp / "serve.yaml", tmp / "pairs.sqlite"
    write_serve_config(config, store)
    deploy(app_args(config), "loop", PREFIX)
    yield f"http://127.0.0.1:{serve_port}{PREFIX}", tmp, config, store
    serve.delete("loop")


def test_the_loop_promotes_a_winner_then_refuses_a_candidate_that_does_not_win(loop, capsys):
    url, tmp, config, store = loop
    prompts = replay_prompts(160)
    tiers = [chat(url, text, category).headers[H.TIER] for category, text in prompts]
    assert 0.2 < tiers.count("large") / len(tiers) < 0.8  # both directions get shadowed
    assert wait_for(lambda: judged(store) >= len(prompts), timeout_s=90), judged(store)
    rows = ShadowStore(store, 10**9, False).rows()
    assert {r["routed_tier"] for r in rows} == {"small", "large"} and all(r["consistent"] == 1 for r in rows)
    math = [r for r in rows if r["category"] == "math"]
    assert math and all(r["outcome"] == "large" for r in math)
    assert all(r["outcome"] == "tie" for r in rows if r["category"] == "support")
    # a small answer asked in shadow carries the live cascade method's confidence (from its logprobs)
    shadow_small = [r for r in rows if r["routed_tier"] == "large"]
    assert all(r["confidence_method"] == "logprobs" and 0 < r["confidence"] <= 1 for r in shadow_small)
    assert all(r["confidence"] is None for r in rows if r["routed_tier"] == "small")  # route_only: not judged

    pairs = tmp / "pairs.jsonl"
    assert cli(["shadow-export", str(store), "--out", str(pairs), "--test-share", "0.25"]) == 0
    exported = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert len(exported) == len(prompts) and sum(r["split"] == "test" for r in exported) == 40
    newest_train = max(r["ts"] for r in exported if r["split"] == "train")
    assert all(r["ts"] >= newest_train for r in exported if r["split"] == "test")

    before = config.read_text()
    common = [
        "retrain",
        str(pairs),
        "--config",
        str(config),
        "--artifact-dir",
        str(tmp / "routers"),
        "--resamples",
        "1000",
        "--folds",
        "3",
    ]
    capsys.readouterr()
    assert cli(common + ["--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dry["decision"]["promote"] and config.read_text() == before  # dry run: shows, writes nothing
    assert dry["cascade"] == {"refitted": False, "note": "cascade mode route_only: not refitted"}
    assert cli(common) == 0
    promoted = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert promoted["decision"]["promote"] and promoted["decision"]["ci_low"] > 0
    kind = promoted["candidate"]
    written = config.read_text()
    assert written.startswith("# operator's serve config") and promoted["written"]["strategy"]["artifact"] in written

    deploy(app_args(config), "loop", PREFIX)  # what `serve deploy` does: the router reconfigures live
    hard = chat(url, HARD[0].format(n=997) + " __echo_prefer_large__", "math")
    easy = chat(url, EASY[1].format(n=998) + FILLER * 8 + " __echo_prefer_tie__", "support")
    assert hard.headers[H.STRATEGY] == kind and easy.headers[H.STRATEGY] == kind
    assert (hard.headers[H.TIER], easy.headers[H.TIER]) == ("large", "small")

    assert cli(common) == 0  # the same pairs against the promoted router: nothing left to win
    refused = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not refused["decision"]["promote"] and "written" not in refused
    assert config.read_text() == written


def test_drift_report_and_verdict_metric(loop, tmp_path):
    url, _, _, store = loop
    if judged(store) == 0:  # runs alone: record a few judged pairs first
        for category, text in replay_prompts(6):
            chat(url, text, category)
        assert wait_for(lambda: judged(store) >= 6, timeout_s=60)
    png = tmp_path / "drift.png"
    assert cli(["drift", str(store), "--by", "category", "--period", "day", "--png", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    needles = (
        "ray_tier_router_judge_verdicts_total{",
        'outcome="large"',
        "ray_tier_router_judge_pairs_total{",
        "ray_tier_router_judge_tokens_total{",
    )
    assert wait_for(lambda: all(n in metrics_text() for n in needles), timeout_s=120, every_s=2), [
        n for n in needles if n not in metrics_text()
    ]


CASCADE_PREFIX = "/cascade-loop"


def cascade_prompt(i: int) -> tuple[str, str]:
    """Half the prompts get a small answer of confidence 0.1 that loses to the large one, half one of
    confidence 0.9 that beats it; the text is the same question either way."""
    hard = i % 2 == 0
    hooks = "__echo_conf_0.1__ __echo_prefer_large__" if hard else "__echo_conf_0.9__ __echo_prefer_small__"
    return ("hard" if hard else "easy"), f"How do I reset the password of account {i}? {hooks}"


@pytest.fixture(scope="module")
def cascade_loop(serve_port, tmp_path_factory):
    """Nothing routed to large (threshold 10) and a cascade threshold (0.95) that escalates every answer."""
    from ray import serve

    tmp = tmp_path_factory.mktemp("cascade-loop")
    config, store = tmp / "serve.yaml", tmp / "pairs.sqlite"
    cascade = {"method": "min_prob", "threshold": 0.95}
    write_serve_config(config, store, "cascade-loop", CASCADE_PREFIX, 10.0, cascade)
    deploy(app_args(config), "cascade-loop", CASCADE_PREFIX)
    yield f"http://127.0.0.1:{serve_port}{CASCADE_PREFIX}", tmp, config, store
    serve.delete("cascade-loop")


def test_the_loop_refits_the_cascade_threshold_and_the_ingress_serves_it(cascade_loop, capsys):
    url, tmp, config, store = cascade_loop
    prompts = [cascade_prompt(i) for i in range(80)]
    assert all(chat(url, text, category).headers[H.ESCALATED] == "yes" for category, text in prompts)
    assert wait_for(lambda: judged(store) >= len(prompts), timeout_s=90), judged(store)
    rows = ShadowStore(store, 10**9, False).rows()  # escalated answers: pairs recorded without a call
    recorded = {(r["category"], round(r["confidence"], 6), r["confidence_method"], r["outcome"]) for r in rows}
    assert recorded == {("hard", 0.1, "min_prob", "large"), ("easy", 0.9, "min_prob", "small")}
    pairs = tmp / "pairs.jsonl"
    assert cli(["shadow-export", str(store), "--out", str(pairs), "--test-share", "0.25"]) == 0
    before = config.read_text()
    common = ["retrain", str(pairs), "--config", str(config), "--artifact-dir", str(tmp / "routers")]
    common += ["--resamples", "1000", "--folds", "3", "--min-test", "20"]
    capsys.readouterr()
    assert cli(common + ["--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert dry["promoted"] == "cascade" and not dry["decision"]["promote"] and config.read_text() == before
    assert cli(common) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    threshold = result["written"]["cascade_threshold"]
    assert 0.1 < threshold <= 0.9 and config.read_text().startswith("# operator's serve config")

    deploy(app_args(config), "cascade-loop", CASCADE_PREFIX)  # what `serve deploy` does
    assert app_args(config)["ingress"]["cascade"]["threshold"] == threshold
    assert chat(url, cascade_prompt(1001)[1], "easy").headers[H.ESCALATED] == "no"
    assert chat(url, cascade_prompt(1000)[1], "hard").headers[H.ESCALATED] == "yes"
