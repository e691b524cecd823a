"""Held-out scores of learned routers: every prompt is scored by a model that never saw it.

A file with its own train/test split is trained on `train` and scored on `test`; otherwise k-fold
cross-validation gives out-of-fold scores for every row. Other datasets can join each fold's
training set (`pool`), minus near-duplicates of the held-out rows.
"""

from dataclasses import dataclass

import numpy as np

from serve_app.evaluation.dataset import LabelledSet
from serve_app.evaluation.training import (
    TrainingRows,
    drop_near_duplicates,
    fit,
    fold_indices,
    predict,
)


@dataclass
class Embedded:
    """A labelled dataset with its MiniLM embeddings."""

    data: LabelledSet
    vectors: np.ndarray

    def source(self) -> dict:
        d = self.data
        return {"name": d.name, "weak": d.weak_model, "strong": d.strong_model, "score_range": d.score_range()}


def training_rows(
    target: Embedded, train_index: np.ndarray, held_out: np.ndarray, pool: list[Embedded]
) -> TrainingRows:
    rows = TrainingRows.empty(target.vectors.shape[1])
    prompts = target.data.prompts
    if len(train_index):
        rows = rows.add(
            target.vectors[train_index],
            target.data.normalised_gap()[train_index],
            target.source(),
            [prompts[i] for i in train_index],
        )
    for other in pool:
        keep = drop_near_duplicates(other.vectors, target.vectors[held_out])
        rows = rows.add(
            other.vectors[keep],
            other.data.normalised_gap()[keep],
            other.source(),
            [p for p, kept in zip(other.data.prompts, keep, strict=True) if kept],
        )
    return rows


def heldout_scores(
    target: Embedded, kinds: list[str], folds: int = 5, pool: list[Embedded] = (), progress: bool = True, **params
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(evaluated row indices, {kind: held-out scores on those rows})."""
    from tqdm import tqdm

    splits = fold_indices(target.data.splits, folds)
    scores = {kind: np.full(len(target.data), np.nan) for kind in kinds}
    steps = tqdm(total=len(splits) * len(kinds), desc=f"train {target.data.name}", disable=not progress)
    with steps:
        for train_index, held_out in splits:
            rows = training_rows(target, train_index, held_out, list(pool))
            for kind in kinds:
                artifact = fit(kind, rows, **params)
                texts = [target.data.prompts[i] for i in held_out]
                scores[kind][held_out] = predict(artifact, target.vectors[held_out], texts)
                steps.update(1)
    evaluated = np.sort(np.concatenate([held for _, held in splits]))
    return evaluated, {kind: s[evaluated] for kind, s in scores.items()}


def across_scores(
    target: Embedded, evaluated: np.ndarray, others: list[Embedded], kinds: list[str], **params
) -> dict[str, np.ndarray]:
    """Leave-one-dataset-out: {kind: scores of the `evaluated` rows} from a router trained only on
    the `others` (minus near-duplicates of the evaluated rows), never on the target dataset."""
    rows = training_rows(target, np.zeros(0, dtype=int), evaluated, list(others))
    texts = [target.data.prompts[i] for i in evaluated]
    return {kind: predict(fit(kind, rows, **params), target.vectors[evaluated], texts) for kind in kinds}


def has_own_split(data: LabelledSet) -> bool:
    return {"train", "test"} <= set(data.splits)


def evaluated_rows(data: LabelledSet) -> np.ndarray:
    """Rows every router is measured on: the `test` split of a file that has its own, else all."""
    return np.flatnonzero(np.array(data.splits) == "test") if has_own_split(data) else np.arange(len(data))


def protocol_of(data: LabelledSet, folds: int) -> str:
    return "own train/test split" if has_own_split(data) else f"{folds}-fold cross-validation"
