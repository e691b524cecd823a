"""Per-tier circuit breaker: after `failure_threshold` consecutive failures (or a report that the
tier has no running replica) a tier is *open* for `open_s`; then one probe request is let through
(*half-open*): success closes it, failure opens it again. The ingress's readiness poll also closes
it (`close()`, not an answered request) when the tier has a running replica again
(serve_app/graph/replica_states.py). It remembers when the tier last answered a request
(`last_success_at`), so a wait cut by the request deadline can tell a hung tier from a slow but live
one (serve_app/request_deadline.py). Pure logic with an injectable clock.
"""

import time
from dataclasses import dataclass, field
from typing import Callable

from pydantic import Field

from serve_app.strict_model import StrictModel

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class BreakerConfig(StrictModel):
    """When the ingress stops sending traffic to a failing tier."""

    failure_threshold: int = Field(
        2,
        ge=1,
        description="Consecutive failures (5xx, replica died, no answer in time, also when the request "
        "deadline cuts the wait: serve_app/request_deadline.py) that open "
        "the breaker. 2: one failure can be a single bad replica or request; two in a "
        "row with nothing in between is a tier that cannot take work.",
    )
    open_s: float = Field(
        5.0,
        gt=0,
        description="Seconds a tier stays open before one probe request is let through; "
        "also the Retry-After of a 503 for a direct request to it.",
    )


@dataclass
class CircuitBreaker:
    """One tier's breaker. `allow()` says whether a request may go to the tier now."""

    failure_threshold: int = 2
    open_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float = field(default=-1.0)
    probing: bool = False
    last_success_at: float = field(default=float("-inf"))  # `clock()` at the last recorded success

    @classmethod
    def from_config(cls, cfg: BreakerConfig, clock: Callable[[], float] = time.monotonic) -> "CircuitBreaker":
        return cls(cfg.failure_threshold, cfg.open_s, clock)

    @property
    def state(self) -> str:
        if self.opened_at < 0:
            return CLOSED
        return HALF_OPEN if self.clock() - self.opened_at >= self.open_s else OPEN

    def allow(self) -> bool:
        """True when closed; in half-open, True for one probe at a time."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self.probing:
            self.probing = True
            return True
        return False

    def available(self) -> bool:
        """Whether a request sent now would be allowed (does not take the probe)."""
        state = self.state
        return state == CLOSED or (state == HALF_OPEN and not self.probing)

    def retry_after_s(self) -> float:
        """Seconds until the tier may be tried again (0 when it may be now)."""
        if self.opened_at < 0:
            return 0.0
        return max(0.0, self.open_s - (self.clock() - self.opened_at))

    def record_success(self) -> None:
        """A request to the tier was answered: closed, and remembered for `succeeded_since`."""
        self.close()
        self.last_success_at = self.clock()

    def close(self) -> None:
        """Closed without an answered request (the readiness poll saw a running replica again)."""
        self.failures, self.opened_at, self.probing = 0, -1.0, False

    def succeeded_since(self, since: float) -> bool:
        """Whether a request to the tier succeeded at or after `since` (a `clock()` reading)."""
        return self.last_success_at >= since

    def record_failure(self) -> None:
        self.failures += 1
        if self.probing or self.failures >= self.failure_threshold:
            self.trip()

    def release_probe(self) -> None:
        """A probe that ended neither in success nor failure (client error, busy): let another go."""
        self.probing = False

    def trip(self) -> None:
        """Open now (a failure threshold reached, or the tier has no running replica)."""
        self.opened_at, self.probing = self.clock(), False
