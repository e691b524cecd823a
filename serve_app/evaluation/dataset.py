"""Labelled routing data: JSON Lines with per-prompt quality scores for a weak and a strong model.

Format (see `../shared/data/README.md`): one object per line with `id`, `prompt`, `category`,
`split` ("train" | "test") and `scores` ({model: number}).
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

SPEC_FORM = "PATH,WEAK_MODEL,STRONG_MODEL"
DROP_MISSING = "--drop-missing"  # the flag that leaves out rows lacking a score (eval, train)


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
    dropped: int = 0  # rows left out for lacking a score (load_labelled's drop_missing)

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
            self.dropped,
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
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None


def _score(row: dict, model: str) -> Optional[float]:
    value = (row.get("scores") or {}).get(model)
    return None if value is None else float(value)


def model_means(rows: list[dict]) -> dict[str, float]:
    """Mean score of every model the file scores (over the rows that score it)."""
    names = sorted({m for r in rows for m in (r.get("scores") or {})})
    means = {}
    for m in names:
        values = [v for v in (_score(r, m) for r in rows) if v is not None]
        if values:
            means[m] = float(np.mean(values))
    return means


def default_pair(rows: list[dict], path: str | Path = "") -> tuple[str, str]:
    """(weak, strong) when a file scores exactly two models: the lower mean is the weak one."""
    means = model_means(rows)
    if len(means) != 2:
        raise ValueError(f"{path}: the file scores {_names(means)}; name the pair as {SPEC_FORM}")
    weak, strong = sorted(means, key=means.get)
    return weak, strong


def _names(models) -> str:
    return ", ".join(repr(m) for m in sorted(models)) or "no model"


def load_labelled(
    path: str | Path,
    weak: Optional[str] = None,
    strong: Optional[str] = None,
    name: Optional[str] = None,
    drop_missing: bool = False,
    rows: Optional[list[dict]] = None,
) -> LabelledSet:
    """Read a labelled JSONL for one weak -> strong model pair (or take `rows`, already read from
    `path`). Rows without a score for either model are an error, or left out (and counted in
    `dropped`) with `drop_missing`."""
    rows = read_rows(path) if rows is None else rows
    if not rows:
        raise ValueError(f"{path}: no rows")
    if weak is None or strong is None:
        weak, strong = default_pair(rows, path)
    scored = model_means(rows)
    for model in (weak, strong):
        if model not in scored:
            raise ValueError(
                f"{path}: no score for model {model!r}; the file scores {_names(scored)} (give the pair as {SPEC_FORM})"
            )
    complete = [r for r in rows if _score(r, weak) is not None and _score(r, strong) is not None]
    dropped = len(rows) - len(complete)
    if dropped and not drop_missing:
        raise ValueError(
            f"{path}: {dropped} of {len(rows)} rows lack a score for {weak!r} or {strong!r}; "
            f"pass {DROP_MISSING} (in a suite file: drop_missing: true) to leave them out"
        )
    if not complete:
        raise ValueError(f"{path}: no row scores both {weak!r} and {strong!r}")
    rows = complete
    return LabelledSet(
        name=name or Path(path).stem,
        prompts=[str(r["prompt"]) for r in rows],
        categories=[str(r.get("category", "")) for r in rows],
        splits=[str(r.get("split", "test")) for r in rows],
        weak=np.array([_score(r, weak) for r in rows]),
        strong=np.array([_score(r, strong) for r in rows]),
        weak_model=weak,
        strong_model=strong,
        ids=[str(r.get("id", i)) for i, r in enumerate(rows)],
        dropped=dropped,
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
    raise ValueError(f"dataset spec {spec!r}: expected PATH or {SPEC_FORM}")


def load_spec(spec: str, drop_missing: bool = False) -> LabelledSet:
    path, weak, strong = parse_spec(spec)
    return load_labelled(path, weak, strong, drop_missing=drop_missing)


def load_specs(specs: list[str], drop_missing: bool = False) -> list[LabelledSet]:
    """Every spec loaded and checked before anything is embedded; all problems in one error."""
    loaded, problems = [], []
    for spec in specs:
        try:
            loaded.append(load_spec(spec, drop_missing))
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("\n".join(problems))
    return loaded
