"""Prometheus metrics of the ingress and the router through Ray Serve's metrics API (they appear
on Ray's metrics endpoint and dashboard, prefixed `ray_`). Ray's metrics module is imported when a
metrics object is built; a fake one can be injected."""

from typing import Any, Optional

from serve_app.operations.observer import RequestRecord
from serve_app.retraining.drift import score_bucket
from serve_app.routing.decision import RouteDecision

LATENCY_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
PREFIX_TOKEN_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256]


class IngressMetrics:
    def __init__(self, metrics: Any = None):
        if metrics is None:
            from ray.serve import metrics
        self.requests = metrics.Counter(
            "tier_router_requests",
            description="Answered chat requests by tier and route reason.",
            tag_keys=("tier", "reason"),
        )
        self.errors = metrics.Counter(
            "tier_router_errors", description="Requests answered with an error, by status.", tag_keys=("status",)
        )
        self.latency = metrics.Histogram(
            "tier_router_request_latency_seconds",
            description="Request latency by answering tier.",
            boundaries=LATENCY_BUCKETS_S,
            tag_keys=("tier",),
        )
        self.ttft = metrics.Histogram(
            "tier_router_ttft_seconds",
            description="Time to first streamed chunk by answering tier.",
            boundaries=LATENCY_BUCKETS_S,
            tag_keys=("tier",),
        )
        self.tokens = metrics.Counter(
            "tier_router_tokens",
            description="Tokens by tier and kind, every paid attempt included.",
            tag_keys=("tier", "kind"),
        )
        self.cost = metrics.Counter(
            "tier_router_cost_usd", description="Estimated cost by tier (from ingress.costs).", tag_keys=("tier",)
        )
        self.savings = metrics.Counter(
            "tier_router_savings_usd", description="Estimated savings against sending every request to the large tier."
        )
        self.large_share = metrics.Gauge(
            "tier_router_large_share",
            description="Rolling share of requests that reached the large tier (routed + escalated).",
        )
        self.escalation_rate = metrics.Gauge(
            "tier_router_escalation_rate", description="Rolling share of cascade-judged requests that escalated."
        )
        self.alarm = metrics.Gauge(
            "tier_router_large_share_alarm", description="1 while the large share exceeds its ceiling."
        )
        self.shadow = metrics.Counter(
            "tier_router_shadow_calls", description="Shadow A/B calls by outcome.", tag_keys=("outcome",)
        )
        self.prefix_decisions = metrics.Counter(
            "tier_router_prefix_decisions",
            description="Streamed cascade requests judged on a prefix, by decision (commit, abort, small-error).",
            tag_keys=("decision",),
        )
        self.prefix_tokens = metrics.Histogram(
            "tier_router_prefix_tokens",
            description="Small-answer tokens judged before commit or abort.",
            boundaries=PREFIX_TOKEN_BUCKETS,
            tag_keys=("decision",),
        )
        self.judge_pairs = metrics.Counter(
            "tier_router_judge_pairs",
            description="Shadow pairs sampled for the judge, by outcome "
            "(started, dropped, over_budget, judged, unparsable, failed).",
            tag_keys=("outcome",),
        )
        self.judge_tokens = metrics.Counter(
            "tier_router_judge_tokens", description="Tokens spent by judge calls, by kind.", tag_keys=("kind",)
        )
        self.verdicts = metrics.Counter(
            "tier_router_judge_verdicts",
            description="Judged pairs by outcome for the small tier (small, tie, large) and route-score bucket.",
            tag_keys=("outcome", "score_bucket"),
        )

    def record_judge_usage(self, usage: dict) -> None:
        for kind in ("prompt", "completion"):
            value = (usage or {}).get(f"{kind}_tokens") or 0
            if value > 0:
                self.judge_tokens.inc(value, tags={"kind": kind})

    def record_verdict(self, outcome: str, route_score: Optional[float]) -> None:
        self.verdicts.inc(tags={"outcome": outcome, "score_bucket": score_bucket(route_score)})

    def record(self, rec: RequestRecord, costs: Any = None) -> None:
        self.requests.inc(tags={"tier": rec.tier, "reason": str(rec.reason)})
        self.latency.observe(rec.latency_s, tags={"tier": rec.tier})
        if rec.ttft_s is not None:
            self.ttft.observe(rec.ttft_s, tags={"tier": rec.tier})
        spent = 0.0
        for tier, usage in rec.attempts:
            for kind in ("prompt", "completion"):
                value = (usage or {}).get(f"{kind}_tokens") or 0
                if value > 0:
                    self.tokens.inc(value, tags={"tier": tier, "kind": kind})
            if costs is not None:
                price = getattr(costs, tier).usd_per_request()
                self.cost.inc(price, tags={"tier": tier})
                spent += price
        saved = costs.large.usd_per_request() - spent if costs is not None and rec.attempts else 0.0
        if saved > 0:
            self.savings.inc(saved)


class RouterMetrics:
    """Complexity-score histogram, routing latency and cache hit ratio on Ray's metrics endpoint."""

    def __init__(self, metrics: Any = None):
        if metrics is None:
            from ray.serve import metrics
        tags = ("strategy",)
        self.score = metrics.Histogram(
            "tier_router_complexity_score",
            description="Complexity scores (0-10).",
            boundaries=[float(b) for b in range(1, 10)],
            tag_keys=tags,
        )
        self.latency = metrics.Histogram(
            "tier_router_route_latency_seconds",
            description="Routing decision latency.",
            boundaries=[0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
            tag_keys=tags,
        )
        self.decisions = metrics.Counter(
            "tier_router_route_decisions",
            description="Routing decisions by tier and cache use.",
            tag_keys=("strategy", "tier", "cached"),
        )
        self.cache_hit_ratio = metrics.Gauge("tier_router_cache_hit_ratio", description="Score cache hits / lookups.")

    def record(self, decision: RouteDecision, latency_s: float, cache: Any) -> None:
        tags = {"strategy": decision.strategy}
        self.score.observe(decision.score, tags=tags)
        self.latency.observe(latency_s, tags=tags)
        self.decisions.inc(tags={**tags, "tier": decision.tier, "cached": str(decision.cached).lower()})
        lookups = cache.hits + cache.misses
        self.cache_hit_ratio.set(cache.hits / lookups if lookups else 0.0)
