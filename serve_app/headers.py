"""Names of the routing-evidence response headers: the one place they are spelled (and the one
reading of the request id)."""

import uuid
from typing import Mapping

PREFIX = "x-tier-router-"
TIER = PREFIX + "tier"  # the tier that answered: small | large
SCORE = PREFIX + "score"  # complexity score, 0-10 (absent when the client named a tier)
STRATEGY = PREFIX + "strategy"  # strategy that scored the prompt, or "direct"
THRESHOLD = PREFIX + "threshold"  # threshold the score was compared with
ROUTE_REASON = PREFIX + "route-reason"  # routed | direct | router-fallback
CACHED = PREFIX + "cached"  # "1" when the score came from the router's cache
DEGRADED = PREFIX + "degraded"  # small-down | large-down: an auto request failed over to the other tier
REQUEST_ID = "x-request-id"  # Serve's id of this request (the client's own if sent); the ingress logs it

# Confidence escalation (present when the cascade ran)
CONFIDENCE = PREFIX + "confidence"  # small answer's confidence 0-1, or "none" (could not be judged)
CONFIDENCE_METHOD = PREFIX + "confidence-method"  # logprobs | self_assessment
ESCALATED = PREFIX + "escalated"  # yes | no
ESCALATION_REASON = PREFIX + "escalation-reason"  # confident | low-confidence | small-error | escalation-failed
TIERS_USED = PREFIX + "tiers"  # tiers called, in order, e.g. "small,large"
ATTEMPTS = PREFIX + "attempts"  # usage of every paid attempt, discarded ones included


def request_id_of(headers: Mapping[str, str]) -> tuple[str, bool]:
    """(id, generated): Serve's id of the request from its `x-request-id` (case-insensitive
    `headers`), or a fresh one (generated True) when the request did not come through Serve's proxy."""
    given = headers.get(REQUEST_ID)
    return (given, False) if given else (uuid.uuid4().hex, True)
