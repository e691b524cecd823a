"""A bounded least-recently-used cache of complexity scores, keyed by scored text."""

from collections import OrderedDict
from typing import Optional


class ScoreCache:
    """LRU map from text to score. Scores, not decisions, are cached so a threshold change
    takes effect at once; a strategy change must call `clear()`."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._entries: "OrderedDict[str, float]" = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> Optional[float]:
        score = self._entries.get(text)
        if score is None:
            self.misses += 1
            return None
        self._entries.move_to_end(text)
        self.hits += 1
        return score

    def put(self, text: str, score: float) -> None:
        if self.max_entries <= 0:
            return
        self._entries[text] = score
        self._entries.move_to_end(text)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def resize(self, max_entries: int) -> None:
        self.max_entries = max_entries
        while len(self._entries) > max(max_entries, 0):
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
