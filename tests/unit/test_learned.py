"""Learned routers: artifact round-trip, config validation, scorers behind RouterCore, training."""

import numpy as np
import pytest
from pydantic import ValidationError

from serve_app.evaluation.training import TrainingRows, drop_near_duplicates, fit, fold_indices, predict
from serve_app.routing.learned import RouterArtifact
from serve_app.routing.policy import RouterPolicy
from serve_app.routing.router_core import RouterCore
from serve_app.routing.strategies import STRATEGIES


class AxisEncoder:
    """2-d unit vectors: 'hard' prompts point along y, others along x."""

    def encode(self, texts):
        return np.array([[0.1, 1.0] if "hard" in t else [1.0, 0.1] for t in texts], dtype=np.float32) / np.hypot(1, 0.1)


def toy_rows() -> TrainingRows:
    texts = ["hard"] * 20 + ["easy"] * 20
    gaps = np.r_[np.ones(15), np.zeros(5), np.zeros(18), -np.ones(2)]
    return TrainingRows.empty(2).add(AxisEncoder().encode(texts), gaps, {"name": "toy"}, texts)


@pytest.mark.parametrize("kind", ["knn", "logistic"])
def test_artifact_round_trip_has_no_text_and_scores_alike(tmp_path, kind):
    artifact = fit(kind, toy_rows(), k=5)
    path = artifact.save(tmp_path / f"{kind}.npz")
    loaded = RouterArtifact.load(path, kind=kind)
    assert loaded.kind == kind and loaded.meta["datasets"][0] == {"name": "toy", "rows": 40}
    assert all(a.dtype.kind in "fiu" for a in loaded.arrays.values())  # numbers only
    texts = ["hard one", "easy one"]
    vectors = AxisEncoder().encode(texts)
    assert np.allclose(predict(loaded, vectors, texts), predict(artifact, vectors, texts))


@pytest.mark.parametrize("kind", ["knn", "logistic"])
def test_router_core_loads_an_artifact_by_config(tmp_path, kind):
    path = fit(kind, toy_rows(), k=20).save(tmp_path / "router.npz")
    core = RouterCore(lambda: AxisEncoder())
    core.apply(RouterPolicy.model_validate({"threshold": 4.0, "strategy": {"name": kind, "artifact": str(path)}}))
    hard = core.route([{"role": "user", "content": "a hard question"}])
    easy = core.route([{"role": "user", "content": "an easy question"}])
    assert hard.strategy == kind and 0.0 <= easy.score < hard.score <= 10.0
    assert hard.score > 5.0 > easy.score  # 5 = neither model expected to do better
    core.apply({"threshold": 5.0, "strategy": {"name": kind, "artifact": str(path)}})
    assert core.route([{"role": "user", "content": "a hard question"}]).tier == "large"
    assert core.route([{"role": "user", "content": "an easy question"}]).tier == "small"


def test_knn_score_is_ten_times_the_neighbours_win_rate(tmp_path):
    path = fit("knn", toy_rows(), k=20).save(tmp_path / "knn.npz")
    scorer = STRATEGIES["knn"][1](STRATEGIES["knn"][0](artifact=str(path)), AxisEncoder())
    hard, easy = scorer.score(["hard", "easy"])
    assert hard == pytest.approx(10 * (15 + 5 * 0.5) / 20)  # a tie counts half a win
    assert easy == pytest.approx(10 * (18 * 0.5) / 20)


def test_k_is_chosen_by_leave_one_out_on_training_rows():
    from serve_app.evaluation.training import choose_k

    k = choose_k(toy_rows(), candidates=(1, 5, 20, 100))
    assert k in (1, 5, 20) and fit("knn", toy_rows()).meta["k"] <= 20  # never more than half the rows


def test_learned_configs_are_strict_and_need_an_artifact():
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"strategy": {"name": "knn"}})
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"strategy": {"name": "logistic", "artifact": "a.npz", "kk": 3}})
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"strategy": {"name": "knn", "artifact": "a.npz", "k": 0}})
    for name in ("knn", "logistic"):
        fields = STRATEGIES[name][0].model_fields
        assert all(f.description for f in fields.values())


def test_wrong_kind_or_format_is_refused(tmp_path):
    path = fit("knn", toy_rows(), k=3).save(tmp_path / "knn.npz")
    with pytest.raises(ValueError, match="not 'logistic'"):
        RouterArtifact.load(path, kind="logistic")
    np.savez(tmp_path / "bad.npz", meta=np.array('{"format": 99, "kind": "knn"}'))
    with pytest.raises(ValueError, match="format"):
        RouterArtifact.load(tmp_path / "bad.npz")


def test_near_duplicates_of_held_out_rows_are_dropped():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    keep = drop_near_duplicates(train, np.array([[1.0, 0.0]]))
    assert list(keep) == [False, True, True]


def test_folds_use_the_own_split_else_k_fold():
    own = fold_indices(["train", "train", "test"], folds=5)
    assert len(own) == 1 and list(own[0][1]) == [2]
    kfold = fold_indices(["test"] * 10, folds=5)
    held = np.sort(np.concatenate([h for _, h in kfold]))
    assert list(held) == list(range(10))
    assert all(not set(t) & set(h) for t, h in kfold)


def test_router_reloads_an_artifact_overwritten_at_the_same_path(tmp_path):
    import os

    now = [0.0]
    path = tmp_path / "router.npz"
    fit("knn", toy_rows(), k=20).save(path)
    core = RouterCore(lambda: AxisEncoder(), clock=lambda: now[0])
    core.apply({"threshold": 5.0, "strategy": {"name": "knn", "artifact": str(path)}})
    assert core.route([{"role": "user", "content": "hard"}]).tier == "large"
    flipped = toy_rows()
    flipped.gaps = -flipped.gaps  # now the strong model is worse on hard prompts
    fit("knn", flipped, k=20).save(path)
    os.utime(path, ns=(1, 1))  # a distinct stamp even on coarse-mtime file systems
    assert core.route([{"role": "user", "content": "hard"}]).tier == "large"  # not checked again yet: cached
    now[0] = 10.0
    assert core.route([{"role": "user", "content": "hard"}]).tier == "small"  # reloaded, cache cleared
    path.write_bytes(b"not an artifact")
    now[0] = 20.0
    assert core.refresh() is False and core.route([{"role": "user", "content": "hard"}]).tier == "small"
