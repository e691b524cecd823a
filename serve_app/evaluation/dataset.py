"""Labelled routing data: JSON Lines with per-prompt quality scores for a weak and a strong model.

Format (see `../shared/data/README.md`): one object per line with `id`, `prompt`, `category`,
`split` ("train" | "test") and `scores` ({model: number}).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np


@dataclass
class LabelledSet:
    """Prompts of one dataset with the weak and the strong model's quality on each."""

    name: str
    prompts: list[str]
    categories: list[str]
    splits: list[str]
    weak: np.ndarray
    strong: np.ndarray
    weak_model: str = ""
    strong_model: str = ""
    ids: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.prompts)

    def subset(self, index: np.ndarray) -> "LabelledSet":
        pick = [int(i) for i in index]
        return LabelledSet(
            self.name,
            [self.prompts[i] for i in pick],
            [self.categories[i] for i in pick],
            [self.splits[i] for i in pick],
            self.weak[pick],
            self.strong[pick],
            self.weak_model,
            self.strong_model,
            [self.ids[i] for i in pick] if self.ids else [],
        )

    def score_range(self) -> float:
        """Spread of all quality scores of the pair; 1 for correct/wrong data."""
        both = np.concatenate([self.weak, self.strong])
        spread = float(both.max() - both.min()) if len(both) else 0.0
        return spread if spread > 0 else 1.0

    def normalised_gap(self, scale: Optional[float] = None) -> np.ndarray:
        """(strong - weak) / scale, scale = this dataset's score range: gaps in [-1, 1] whatever
        the grading (0/1 correctness, 1-10 grades), so several datasets can train one router."""
        return (self.strong - self.weak) / (scale or self.score_range())


def read_rows(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def model_means(rows: list[dict]) -> dict[str, float]:
    """Mean score of every model that scored every row."""
    names = set.intersection(*(set(r["scores"]) for r in rows)) if rows else set()
    return {m: float(np.mean([r["scores"][m] for r in rows])) for m in sorted(names)}


def default_pair(rows: list[dict]) -> tuple[str, str]:
    """(weak, strong) when a file scores exactly two models: the lower mean is the weak one."""
    means = model_means(rows)
    if len(means) != 2:
        raise ValueError(f"name --weak and --strong: the file scores {sorted(means)}")
    weak, strong = sorted(means, key=means.get)
    return weak, strong


def load_labelled(
    path: str | Path, weak: Optional[str] = None, strong: Optional[str] = None, name: Optional[str] = None
) -> LabelledSet:
    """Read a labelled JSONL for one weak -> strong model pair."""
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no rows")
    if weak is None or strong is None:
        weak, strong = default_pair(rows)
    for model in (weak, strong):
        missing = sum(model not in r.get("scores", {}) for r in rows)
        if missing:
            raise ValueError(f"{path}: model {model!r} has no score on {missing} rows")
    return LabelledSet(
        name=name or Path(path).stem,
        prompts=[str(r["prompt"]) for r in rows],
        categories=[str(r.get("category", "")) for r in rows],
        splits=[str(r.get("split", "test")) for r in rows],
        weak=np.array([float(r["scores"][weak]) for r in rows]),
        strong=np.array([float(r["scores"][strong]) for r in rows]),
        weak_model=weak,
        strong_model=strong,
        ids=[str(r.get("id", i)) for i, r in enumerate(rows)],
    )


def read_prompts(path: str | Path) -> list[str]:
    """Unlabelled prompts: a JSONL with a `prompt` field per line, or plain text, one per line."""
    lines = [
        line for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()
    ]  # not splitlines: JSON strings may hold U+2028
    if lines and lines[0].lstrip().startswith("{"):
        return [str(json.loads(line)["prompt"]) for line in lines]
    return lines


def parse_spec(spec: str) -> tuple[str, Optional[str], Optional[str]]:
    """`PATH` or `PATH,WEAK,STRONG` (the pair may be left out when the file scores two models)."""
    parts = spec.split(",")
    if len(parts) == 1:
        return parts[0], None, None
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise ValueError(f"dataset spec {spec!r}: expected PATH or PATH,WEAK_MODEL,STRONG_MODEL")


def load_spec(spec: str) -> LabelledSet:
    path, weak, strong = parse_spec(spec)
    return load_labelled(path, weak, strong)
