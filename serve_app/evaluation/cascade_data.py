"""The labelled items a cascade evaluation runs on: a seeded sample of a labelled JSONL,
stratified by `category`, with each item's reference (for its grader) and the recorded scores of
the strong model(s) the small tier is compared with."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from serve_app.evaluation.dataset import read_rows


@dataclass(frozen=True)
class CascadeItem:
    """One labelled prompt of a cascade evaluation."""

    id: str
    prompt: str
    category: str
    reference: str
    large_scores: dict[str, float]  # recorded score of each large model on this prompt


def stratified_sample(categories: list[str], size: int, seed: int) -> np.ndarray:
    """Indices of a sample of `size` rows (all rows when there are fewer), allocated to categories
    in proportion to their size (largest remainders; at least one per category when size allows),
    drawn without replacement within each category with a seeded generator; sorted."""
    n = len(categories)
    if size >= n:
        return np.arange(n)
    names = sorted(set(categories))
    members = {c: [i for i, cat in enumerate(categories) if cat == c] for c in names}
    exact = np.array([len(members[c]) * size / n for c in names])
    take = np.floor(exact).astype(int)
    if size >= len(names):
        take = np.maximum(take, 1)
    for j in np.argsort(-(exact - np.floor(exact)), kind="stable"):
        if take.sum() >= size:
            break
        take[j] += 1
    while take.sum() > size:  # the "at least one" floor overshot: trim the largest
        take[int(np.argmax(take))] -= 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(members[c], size=int(k), replace=False) for c, k in zip(names, take, strict=True) if k]
    return np.sort(np.concatenate(picked))


def load_items(
    path: str, references: dict[str, str], large_models: list[str], size: Optional[int], seed: int
) -> tuple[list[CascadeItem], int]:
    """(sampled items, rows skipped for lacking a reference or a large model's score)."""
    rows = read_rows(path)
    usable = [r for r in rows if str(r.get("id")) in references and all(m in r.get("scores", {}) for m in large_models)]
    skipped = len(rows) - len(usable)
    if not usable:
        raise ValueError(f"{path}: no row has a reference and a score for {', '.join(large_models)}")
    index = stratified_sample([str(r.get("category", "")) for r in usable], size or len(usable), seed)
    items = [
        CascadeItem(
            str(r["id"]),
            str(r["prompt"]),
            str(r.get("category", "")),
            references[str(r["id"])],
            {m: float(r["scores"][m]) for m in large_models},
        )
        for r in (usable[i] for i in index)
    ]
    return items, skipped
