"""Shadow A/B: pairs of (small answer, large answer) for the same request, in a local SQLite store,
with the judge's verdict on each pair when it was judged.

Prompt and answer text are stored only when the operator opts in (`store_prompts`); otherwise
only their SHA-256 (the judge then sees the text in memory only). The store migrates itself: a
store written by an older version opens and gains the new columns and the verdicts table.
"""

import hashlib
import re
import sqlite3
import time
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

SCHEMA_VERSION = 2
_PAIR_COLUMNS = """id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, prompt_sha256 TEXT NOT NULL,
    prompt TEXT, small_answer TEXT, large_answer TEXT, small_latency_s REAL, large_latency_s REAL,
    agreement REAL NOT NULL, route_score REAL, small_answer_sha256 TEXT, large_answer_sha256 TEXT,
    routed_tier TEXT, category TEXT, confidence REAL, confidence_method TEXT"""
_V0_COLUMNS = (
    "id, ts, prompt_sha256, prompt, small_answer, large_answer, small_latency_s, large_latency_s, "
    "agreement, route_score"
)
_VERDICTS = """CREATE TABLE IF NOT EXISTS verdicts (
    pair_id INTEGER PRIMARY KEY, ts REAL NOT NULL, mode TEXT NOT NULL, judge TEXT, first TEXT, second TEXT,
    outcome TEXT, small_score REAL, large_score REAL, consistent INTEGER)"""


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


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ShadowPair:
    """Both tiers' answers to one request (one of them was returned to the client)."""

    prompt: str
    small_answer: str
    large_answer: str
    small_latency_s: Optional[float]
    large_latency_s: Optional[float]
    route_score: Optional[float] = None
    routed_tier: Optional[str] = None  # the tier whose answer the client got
    category: Optional[str] = None  # the request's `metadata.category`, when it had one
    confidence: Optional[float] = None  # confidence in the small answer under `confidence_method`
    confidence_method: Optional[str] = None  # the cascade method that computed it (None: no confidence)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a store of any earlier version to SCHEMA_VERSION (in one transaction)."""
    db.execute("BEGIN IMMEDIATE")
    version = db.execute("PRAGMA user_version").fetchone()[0]
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='pairs'").fetchone()
    if version < SCHEMA_VERSION and not exists:
        db.execute(f"CREATE TABLE pairs ({_PAIR_COLUMNS})")
    elif version == 0:  # v0: answers were NOT NULL and the newer columns missing: rebuild the table
        db.execute(f"CREATE TABLE pairs_new ({_PAIR_COLUMNS})")
        db.execute(f"INSERT INTO pairs_new ({_V0_COLUMNS}) SELECT {_V0_COLUMNS} FROM pairs")
        db.execute("DROP TABLE pairs")
        db.execute("ALTER TABLE pairs_new RENAME TO pairs")
    elif version == 1:  # v1 lacked the method of the recorded confidence
        db.execute("ALTER TABLE pairs ADD COLUMN confidence_method TEXT")
    if version < SCHEMA_VERSION:
        db.execute(_VERDICTS)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    db.execute("COMMIT")


class ShadowStore:
    """Append-only pair store with rotation: keeps at most `max_rows` newest pairs (and their verdicts)."""

    def __init__(self, path: str | Path, max_rows: int, store_prompts: bool):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_rows = max_rows
        self.store_prompts = store_prompts
        with self._connect() as db:
            migrate(db)

    @contextmanager
    def _connect(self):
        """A connection in autocommit mode (transactions are explicit), closed after use."""
        with closing(sqlite3.connect(self.path, timeout=5, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def record(self, pair: ShadowPair, ts: Optional[float] = None) -> tuple[int, float]:
        """Store one pair; returns (its id, the answers' agreement)."""
        score = agreement(pair.small_answer, pair.large_answer)
        keep = self.store_prompts
        row = (
            time.time() if ts is None else ts,
            sha256(pair.prompt),
            pair.prompt if keep else None,
            pair.small_answer if keep else None,
            pair.large_answer if keep else None,
            pair.small_latency_s,
            pair.large_latency_s,
            score,
            pair.route_score,
            sha256(pair.small_answer),
            sha256(pair.large_answer),
            pair.routed_tier,
            pair.category,
            pair.confidence,
            pair.confidence_method if pair.confidence is not None else None,
        )
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO pairs (ts, prompt_sha256, prompt, small_answer, large_answer, small_latency_s, "
                "large_latency_s, agreement, route_score, small_answer_sha256, large_answer_sha256, routed_tier, "
                "category, confidence, confidence_method) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            oldest_kept = "(SELECT MAX(id) FROM pairs) - ?"
            db.execute(f"DELETE FROM verdicts WHERE pair_id <= {oldest_kept}", (self.max_rows,))
            db.execute(f"DELETE FROM pairs WHERE id <= {oldest_kept}", (self.max_rows,))
            db.execute("COMMIT")
        return int(cursor.lastrowid), score

    def record_verdict(self, pair_id: int, verdict: Any, judge: str = "") -> None:
        """Store (or replace) the judge's verdict on a pair (a `serve_app.judging.verdict.Verdict`)."""
        consistent = None if verdict.consistent is None else int(verdict.consistent)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    pair_id,
                    time.time(),
                    verdict.mode,
                    judge,
                    verdict.first,
                    verdict.second,
                    verdict.outcome,
                    verdict.small_score,
                    verdict.large_score,
                    consistent,
                ),
            )

    def rows(self, since: Optional[float] = None, until: Optional[float] = None) -> list[dict]:
        """Pairs with `since <= ts < until`, oldest first, each with its verdict columns
        (`verdict_mode`, `outcome`, `small_score`, ...; None when not judged)."""
        query = (
            "SELECT p.*, v.mode AS verdict_mode, v.judge, v.first, v.second, v.outcome, v.small_score,"
            " v.large_score, v.consistent FROM pairs p LEFT JOIN verdicts v ON v.pair_id = p.id"
            " WHERE (? IS NULL OR p.ts >= ?) AND (? IS NULL OR p.ts < ?) ORDER BY p.id"
        )
        with self._connect() as db:
            return [dict(r) for r in db.execute(query, (since, since, until, until))]
