"""The request deadline as seen by the tier being waited on.

`ChatFlow.run` gives a request (routing, the small attempt, any escalation) one deadline. In the
shipped config it equals each tier's own `request_timeout_s`, so a tier that takes a request and
never answers would be cancelled by the deadline before its own "no answer in time" fired, and its
circuit breaker would never learn that it hung. So `ChatFlow.run` publishes the deadline here (a
context variable: the request's own task sees it, and any task started inside it), and `TierClient`
ends its wait for the first answer (or stream chunk) `MARGIN_S` before the deadline, counting it as
a failure of the tier it was waiting on, and raises `RequestDeadlineReached` (naming that tier),
which `ChatFlow.run` answers like the deadline itself (503, no Retry-After, the message naming the
tier waited on). In an escalation whose policy says `on_large_error: return_small`, a cut on the large
tier returns the small answer instead, as a large-tier error does (serve_app/cascade/runner.py).

Liveness: the cut blames the tier (a breaker failure) only if no request to it succeeded since the
wait began (`CircuitBreaker.succeeded_since`). A non-streamed call's first item is the whole answer,
so a healthy tier that is slow on a long answer would otherwise be blamed as hung, and two such
requests would open its breaker (busy is not down); when another request to the tier succeeded
meanwhile, the tier is alive and the cut only releases its probe. The client gets the same 503.

Only a tier that had at least `MIN_BLAME_SHARE` of the deadline is cut off and blamed. Two attempts
share one deadline, so at most one of them can have had that much: a tier left little time (the
router or the small attempt used most of it) is waited on until the deadline cancels the wait, which
counts against no tier. Reasoned values, not measured ones. Pure: no Ray, no I/O.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator, Optional

MARGIN_S = 0.1  # ends the tier's wait this long before the deadline, so the tier's timer fires first
MIN_BLAME_SHARE = 0.5  # of the request deadline: a tier given less is never blamed for the deadline


class RequestDeadlineReached(TimeoutError):
    """A tier's wait for its first answer was cut short by the request deadline (the tier counted as
    failed unless it answered another request meanwhile). Not an APIError: there is no time left to
    fail over or escalate. `tier`: the tier waited on."""

    def __init__(self, tier: str, message: str):
        super().__init__(message)
        self.tier = tier


@dataclass(frozen=True)
class RequestDeadline:
    """One request's deadline: `at` in event-loop time (`loop.time()`), `total_s` long in all."""

    at: float
    total_s: float

    def cut_wait_s(self, own_timeout_s: float, now: float) -> Optional[float]:
        """The wait for a tier's first answer, starting at `now`, when the deadline ends it before
        `own_timeout_s` does and the tier gets at least `MIN_BLAME_SHARE` of the deadline; None:
        wait `own_timeout_s` (the deadline, should it come first, cancels without blaming)."""
        wait_s = self.at - MARGIN_S - now
        if wait_s >= own_timeout_s or wait_s < MIN_BLAME_SHARE * self.total_s:
            return None
        return wait_s


_current: ContextVar[Optional[RequestDeadline]] = ContextVar("request_deadline", default=None)


def current_deadline() -> Optional[RequestDeadline]:
    """The deadline of the request being served in this context, or None."""
    return _current.get()


@contextmanager
def request_deadline(deadline: RequestDeadline) -> Iterator[RequestDeadline]:
    """Publish `deadline` for the tier calls made inside the block (and only there)."""
    token = _current.set(deadline)
    try:
        yield deadline
    finally:
        _current.reset(token)
