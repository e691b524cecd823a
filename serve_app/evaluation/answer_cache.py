"""A JSONL cache of a tier's raw answers, keyed by endpoint + model + call kind + request body
(the prompt included), so re-analysis costs nothing and an interrupted run resumes where it
stopped. Append-only: one line per answered call; a line cut by a crash is skipped on load."""

import hashlib
import json
import threading
from pathlib import Path
from typing import Any, Optional


def cache_key(url: str, model: str, kind: str, body: dict[str, Any]) -> str:
    """Stable key of one call: the same request to the same endpoint hits the same entry."""
    blob = json.dumps(
        {"url": url.rstrip("/"), "model": model, "kind": kind, "body": body}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class AnswerCache:
    """Raw answers on disk, `{key, kind, id, response}` per line; loaded once, appended as calls end."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._entries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        if self.path.exists():
            with open(self.path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        entry = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut off by an interrupted run
                    if isinstance(entry, dict) and "key" in entry and "response" in entry:
                        self._entries[entry["key"]] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Optional[dict[str, Any]]:
        entry = self._entries.get(key)
        return None if entry is None else entry["response"]

    def put(self, key: str, kind: str, item_id: str, response: dict[str, Any]) -> None:
        entry = {"key": key, "kind": kind, "id": item_id, "response": response}
        with self._lock:
            self._entries[key] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
