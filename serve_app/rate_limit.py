"""Per-key token-bucket rate limit (pure; injectable clock)."""

import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class TokenBucket:
    """`rate_per_s` requests per second on average, bursts of up to `burst`."""

    rate_per_s: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(default=-1.0)
    stamp: float = field(default=0.0)

    def take(self) -> Optional[float]:
        """None when the request may go now (a token is spent), else seconds until one is free."""
        now = self.clock()
        if self.tokens < 0:
            self.tokens, self.stamp = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate_per_s)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimiter:
    """One bucket per client key (keys are the configured API keys, so the map stays small)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate_per_s, self.burst, self.clock = rate_per_s, burst, clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> Optional[float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate_per_s, self.burst, self.clock)
        return bucket.take()
