"""After each answered request: metrics, the large-share alarm, the escalation rate, and shadow
sampling. Ray-free (metrics are injected), so every branch tests in milliseconds."""

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from serve_app.operations.alarm import LargeShareAlarm, RollingShare
from serve_app.operations.shadow_runner import ShadowRunner, answer_text
from serve_app.vocabulary import LARGE, SMALL, AnswerReason, Tier

logger = logging.getLogger(__name__)


@dataclass
class RequestRecord:
    """What one answered request did, for the metrics."""

    tier: Tier  # the tier whose answer was returned
    reason: AnswerReason
    latency_s: float
    ttft_s: Optional[float] = None
    attempts: list[tuple[str, dict]] = field(default_factory=list)  # (tier, usage)


def shadowable_answer(result: Any) -> Optional[dict]:
    """The whole answer the client got, when the other tier can be asked for a pair: a small
    answer, or a large one the router chose (not an escalation, not a stream)."""
    if result.tier == SMALL:
        return result.small_answer
    if result.tier == LARGE and result.reason == AnswerReason.ROUTED and result.body is not None:
        return result.body
    return None


def escalated_pair(result: Any) -> Optional[tuple[str, str]]:
    """(small, large) answer texts of a whole escalated answer: the pair is already paid for."""
    if result.reason != AnswerReason.ESCALATED or result.body is None or result.discarded_small is None:
        return None
    return answer_text(result.discarded_small), answer_text(result.body)


class RequestObserver:
    def __init__(self, metrics: Any, alarm: LargeShareAlarm, costs: Any = None, shadow: Optional[ShadowRunner] = None):
        self.metrics = metrics
        self.alarm = alarm
        self.escalations = RollingShare(alarm.share.window_s)
        self.costs = costs
        self.shadow = shadow

    def finish(self, result: Any, latency_s: float, ttft_s: Optional[float] = None) -> None:
        attempts = [(a.tier, a.usage) for a in result.attempts if a.usage]
        self.metrics.record(RequestRecord(result.tier, result.reason, latency_s, ttft_s, attempts), self.costs)
        crossing = self.alarm.observe(result.reached_large)
        if crossing == "raised":
            logger.warning(
                "escalation alarm: %.0f%% of the last %d requests reached the large tier "
                "(ceiling %.0f%%); the routing threshold may be too low",
                100 * self.alarm.share.share,
                self.alarm.share.count,
                100 * self.alarm.ceiling,
            )
        elif crossing == "cleared":
            logger.warning("escalation alarm cleared: large-tier share back to %.0f%%", 100 * self.alarm.share.share)
        self.metrics.large_share.set(self.alarm.share.share)
        self.metrics.alarm.set(1.0 if self.alarm.raised else 0.0)
        if result.prefix is not None:
            tags = {"decision": result.prefix.decision}
            self.metrics.prefix_decisions.inc(tags=tags)
            self.metrics.prefix_tokens.observe(result.prefix.tokens, tags=tags)
        if result.cascade_judged:
            self.escalations.observe(result.reason == AnswerReason.ESCALATED)
            self.metrics.escalation_rate.set(self.escalations.share)
        if self.shadow is not None:
            self._shadow(result, latency_s)

    def _shadow(self, result: Any, latency_s: float) -> None:
        confidence = (result.confidence, result.confidence_method)
        escalated = escalated_pair(result)
        if escalated is not None:
            self.shadow.maybe_record(result.request_body, *escalated, result.route_score, *confidence)
            return
        answer = shadowable_answer(result)
        if answer is not None:
            self.shadow.maybe_start(
                result.request_body, result.tier, answer_text(answer), latency_s, result.route_score, *confidence
            )

    def error(self, status: int) -> None:
        self.metrics.errors.inc(tags={"status": str(status)})
