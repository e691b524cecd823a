"""Learned routers on the real MiniLM: train on a shared dataset, serve the artifact via RouterCore."""

import numpy as np
import pytest

from serve_app import cli
from serve_app.config import RouterConfig
from serve_app.evaluation.dataset import load_labelled
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.routing.encoder_registry import make_encoder
from serve_app.routing.learned import RouterArtifact
from serve_app.routing.policy import RouterPolicy
from serve_app.routing.router_core import RouterCore
from tests.conftest import SHARED_DATA

MTBENCH = SHARED_DATA / "routellm_mtbench.jsonl"
PAIR = "mistralai/Mixtral-8x7B-Instruct-v0.1,gpt-4-1106-preview"
pytestmark = pytest.mark.skipif(not MTBENCH.exists(), reason="../shared/data is not there")


@pytest.fixture(scope="module")
def encoder():
    return make_encoder(RouterConfig().encoder_settings())  # the serving default


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """kNN and logistic artifacts trained by the CLI on MT-Bench (80 prompts), in a private cache
    (the vectors the evaluation sees, in `cache/embeddings`)."""
    folder = tmp_path_factory.mktemp("learned")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIER_ROUTER_CACHE_DIR", str(folder / "cache"))
        for kind in ("knn", "logistic"):
            args = [
                "train",
                f"{MTBENCH},{PAIR}",
                "--kind",
                kind,
                "--out",
                str(folder / f"{kind}.npz"),
                "--quiet",
                "--no-report",
            ]  # the held-out report is covered by the unit tests
            assert cli.main(args) == 0
    return folder


@pytest.mark.parametrize("kind", ["knn", "logistic"])
def test_served_scores_equal_evaluated_scores(trained, encoder, kind):
    """The router deployment's path (texts -> encoder -> scorer) gives the evaluation's numbers."""
    from serve_app.evaluation.training import predict

    data = load_labelled(MTBENCH, *PAIR.split(","))
    core = RouterCore(lambda: encoder)
    core.apply(RouterPolicy.model_validate({"strategy": {"name": kind, "artifact": str(trained / f"{kind}.npz")}}))
    served = np.array(core.score(data.prompts[:20]))
    vectors = EmbeddingStore(folder=trained / "cache" / "embeddings", progress=False).embed(data.prompts)
    evaluated = predict(RouterArtifact.load(trained / f"{kind}.npz"), vectors[:20], data.prompts[:20])
    assert np.allclose(served, evaluated, atol=1e-3)
    assert ((0.0 <= served) & (served <= 10.0)).all()


def test_trained_router_sends_maths_above_chit_chat(trained, encoder):
    core = RouterCore(lambda: encoder)
    core.apply({"threshold": 4.0, "strategy": {"name": "logistic", "artifact": str(trained / "logistic.npz")}})
    maths = core.route([{"role": "user", "content": "Solve for x: 3x^2 - 12x + 9 = 0, then prove the roots are real."}])
    chat = core.route([{"role": "user", "content": "Write a short friendly poem about spring flowers."}])
    assert maths.strategy == "logistic" and maths.score > chat.score
    meta = RouterArtifact.load(trained / "logistic.npz").meta
    assert meta["datasets"][0]["name"] == "routellm_mtbench" and meta["rows"] == 80
