"""The words a request's evidence is spelled in: tiers, why a tier was chosen, how the cascade
ended, and what the metrics count. Headers carry `RouteReason` and `EscalationReason` values;
the `reason` label of `tier_router_requests_total` carries `AnswerReason` values, derived from
them in one place (`answer_reason`)."""

from enum import StrEnum
from typing import Literal, Optional

Tier = Literal["small", "large"]
SMALL: Tier = "small"
LARGE: Tier = "large"
TIERS: tuple[Tier, ...] = (SMALL, LARGE)

# Model names a client may send: `auto` routes, a tier name goes straight to that tier.
ServedModel = Literal["auto", "small", "large"]
AUTO: ServedModel = "auto"
SERVED_MODELS: tuple[ServedModel, ...] = (AUTO, *TIERS)


class RouteReason(StrEnum):
    """Why the first tier was chosen (header `x-tier-router-route-reason`)."""

    ROUTED = "routed"  # the router scored the prompt
    DIRECT = "direct"  # the client named the tier
    ROUTER_FALLBACK = "router-fallback"  # the router failed or timed out: large tier
    CASCADE_ONLY = "cascade-only"  # mode cascade_only: every auto request starts on small
    FAILOVER = "failover"  # the chosen tier was down (breaker open, or it failed): the other tier


class EscalationReason(StrEnum):
    """How the cascade ended (header `x-tier-router-escalation-reason`)."""

    CONFIDENT = "confident"
    LOW_CONFIDENCE = "low-confidence"
    SMALL_ERROR = "small-error"
    ESCALATION_FAILED = "escalation-failed"


class AnswerReason(StrEnum):
    """Why the returned answer came from its tier (metric label `reason`)."""

    ROUTED = "routed"
    DIRECT = "direct"
    ESCALATED = "escalated"
    FALLBACK = "fallback"  # the router failed, or the small tier failed and large answered
    CASCADE_ONLY = "cascade-only"
    FAILOVER = "failover"  # an auto request answered by the other tier while its tier was down


def answer_reason(
    route: RouteReason, escalation: Optional[EscalationReason] = None, escalated: bool = False
) -> AnswerReason:
    """The metric label for a request routed for `route` whose cascade (if it ran) ended with
    `escalation`, `escalated` saying whether the large tier's answer was returned."""
    if escalation is EscalationReason.SMALL_ERROR or route is RouteReason.ROUTER_FALLBACK:
        return AnswerReason.FALLBACK
    if escalated:
        return AnswerReason.ESCALATED
    return AnswerReason(route.value)
