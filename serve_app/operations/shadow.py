"""Shadow A/B: pairs of (small answer, large answer) for the same request, in a local SQLite store.

Prompts are stored only when the operator opts in; otherwise only their SHA-256. Exported pairs are
in the routing-evaluation format that `tier-router train` / `eval` read, with the agreement score as
the small model's quality and 1.0 as the large model's: the retraining loop, closed.
"""

import hashlib
import json
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Optional

SMALL_MODEL = "small"
LARGE_MODEL = "large"

_SCHEMA = """CREATE TABLE IF NOT EXISTS pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, prompt_sha256 TEXT NOT NULL,
    prompt TEXT, small_answer TEXT NOT NULL, large_answer TEXT NOT NULL,
    small_latency_s REAL, large_latency_s REAL, agreement REAL NOT NULL, route_score REAL)"""


def agreement(a: str, b: str) -> float:
    """Token-overlap F1 of two answers in [0, 1] (cheap, model-free; 1 = same words)."""
    ta, tb = re.findall(r"\w+", a.lower()), re.findall(r"\w+", b.lower())
    if not ta or not tb:
        return float(ta == tb)
    common = sum((Counter(ta) & Counter(tb)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(ta), common / len(tb)
    return 2 * precision * recall / (precision + recall)


class ShadowStore:
    """Append-only pair store with rotation: keeps at most `max_rows` newest pairs."""

    def __init__(self, path: str | Path, max_rows: int, store_prompts: bool):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self.store_prompts = store_prompts
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=5)

    def record(
        self,
        prompt: str,
        small_answer: str,
        large_answer: str,
        small_latency_s: Optional[float],
        large_latency_s: float,
        route_score: Optional[float] = None,
    ) -> float:
        score = agreement(small_answer, large_answer)
        digest = hashlib.sha256(prompt.encode()).hexdigest()
        with self._connect() as db:
            db.execute(
                "INSERT INTO pairs (ts, prompt_sha256, prompt, small_answer, large_answer, small_latency_s,"
                " large_latency_s, agreement, route_score) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    time.time(),
                    digest,
                    prompt if self.store_prompts else None,
                    small_answer,
                    large_answer,
                    small_latency_s,
                    large_latency_s,
                    score,
                    route_score,
                ),
            )
            db.execute("DELETE FROM pairs WHERE id <= (SELECT MAX(id) FROM pairs) - ?", (self.max_rows,))
        return score

    def rows(self) -> list[dict]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM pairs ORDER BY id")]


def export_pairs(store_path: str | Path, out_path: str | Path, test_share: float = 0.2) -> tuple[int, int]:
    """Write pairs that have prompt text as evaluation JSONL; returns (written, skipped_hashed)."""
    store = ShadowStore(store_path, max_rows=2**62, store_prompts=False)
    written = skipped = 0
    with open(out_path, "w") as out:
        for row in store.rows():
            if not row["prompt"]:
                skipped += 1
                continue
            split = "test" if int(row["prompt_sha256"][:8], 16) / 0xFFFFFFFF < test_share else "train"
            out.write(
                json.dumps(
                    {
                        "id": f"shadow-{row['id']}",
                        "prompt": row["prompt"],
                        "category": "shadow",
                        "split": split,
                        "scores": {SMALL_MODEL: round(row["agreement"], 4), LARGE_MODEL: 1.0},
                    }
                )
                + "\n"
            )
            written += 1
    return written, skipped
