"""Shadow pairs -> the labelled dataset format that `tier-router eval`, `train` and `retrain` read.

Label `judge` (default): the judge's verdict, `scores: {small, large}` in [0, 1] (pairwise: win 1,
tie 0.5, loss 0; graded: rating / 10); pairs never judged, or with an unparsable verdict, are left
out and counted. Label `agreement`: the cheap fallback, token-F1 of the two answers as the small
model's score and 1.0 as the large model's. Rows carry `ts`, the route score and the small
answer's cascade `confidence` with its `confidence_method` (null when none was recorded);
`--since/--until` pick a window and the newest slice (`--test-since`, or `--test-share` of the
rows) is marked `split: test`.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from serve_app.operations.shadow import ShadowStore
from serve_app.operations.windows import held_out_mask

SMALL_MODEL = "small"
LARGE_MODEL = "large"
LABELS = ("judge", "agreement")


@dataclass
class ExportCounts:
    written: int = 0
    test: int = 0
    hashed: int = 0  # stored without text (no opt-in): cannot train on them
    unjudged: int = 0  # label judge: no verdict, or an unparsable one


def _scores(row: dict, label: str) -> Optional[dict]:
    if label == "agreement":
        return {SMALL_MODEL: round(row["agreement"], 4), LARGE_MODEL: 1.0}
    if row.get("outcome") is None:
        return None
    return {SMALL_MODEL: row["small_score"], LARGE_MODEL: row["large_score"]}


def export_pairs(
    store_path: str | Path,
    out_path: str | Path,
    label: str = "judge",
    since: Optional[float] = None,
    until: Optional[float] = None,
    test_since: Optional[float] = None,
    test_share: float = 0.2,
) -> ExportCounts:
    """Write the window's usable pairs as evaluation JSONL, the newest slice as `split: test`."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}")
    store = ShadowStore(store_path, max_rows=2**62, store_prompts=False)
    counts, usable = ExportCounts(), []
    for row in store.rows(since, until):
        scores = _scores(row, label)
        if not row["prompt"]:
            counts.hashed += 1
        elif scores is None:
            counts.unjudged += 1
        else:
            usable.append((row, scores))
    test = held_out_mask([row["ts"] for row, _ in usable], test_since, test_share)
    with open(out_path, "w") as out:
        for (row, scores), is_test in zip(usable, test, strict=True):
            out.write(
                json.dumps(
                    {
                        "id": f"shadow-{row['id']}",
                        "prompt": row["prompt"],
                        "category": row["category"] or "shadow",
                        "split": "test" if is_test else "train",
                        "scores": scores,
                        "ts": row["ts"],
                        "route_score": row["route_score"],
                        "confidence": row["confidence"],
                        "confidence_method": row["confidence_method"] if row["confidence"] is not None else None,
                        "label": label if label == "agreement" else row["verdict_mode"],
                    }
                )
                + "\n"
            )
    counts.written, counts.test = len(usable), int(test.sum())
    return counts
