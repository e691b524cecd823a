"""Rolling share of traffic that reaches the large tier (routed + escalated), with a ceiling.

The design's advice: if more than ~30% of traffic reaches the large model, the threshold is too
low. The alarm changes state only on a crossing, so it is logged once per crossing, not per request.
"""

import time
from collections import deque
from typing import Callable, Optional


class RollingShare:
    """Share of `True` observations over the last `window_s` seconds."""

    def __init__(self, window_s: float, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self._clock = clock
        self._events: deque[tuple[float, bool]] = deque()
        self._hits = 0

    def observe(self, hit: bool) -> None:
        self._events.append((self._clock(), hit))
        self._hits += hit
        self._expire()

    def _expire(self) -> None:
        horizon = self._clock() - self.window_s
        while self._events and self._events[0][0] < horizon:
            self._hits -= self._events.popleft()[1]

    @property
    def count(self) -> int:
        self._expire()
        return len(self._events)

    @property
    def share(self) -> float:
        self._expire()
        return self._hits / len(self._events) if self._events else 0.0


class LargeShareAlarm:
    """Raised while the rolling large-tier share exceeds `ceiling` (after `min_requests`)."""

    def __init__(self, ceiling: float, window_s: float, min_requests: int, clock: Callable[[], float] = time.monotonic):
        self.ceiling = ceiling
        self.min_requests = min_requests
        self.share = RollingShare(window_s, clock)
        self.raised = False

    def observe(self, reached_large: bool) -> Optional[str]:
        """Record one request; returns "raised" or "cleared" on a crossing, else None."""
        self.share.observe(reached_large)
        above = self.share.count >= self.min_requests and self.share.share > self.ceiling
        if above == self.raised:
            return None
        self.raised = above
        return "raised" if above else "cleared"
