"""One chat request, top to bottom: parse -> validate -> route -> call tier -> judge confidence ->
maybe escalate -> respond with evidence headers and usage.

Ray-free: the router and the tiers are injected, so every branch is testable without a cluster.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from pydantic import ValidationError

from serve_app import headers as H
from serve_app.cascade.override import effective_policy
from serve_app.cascade.policy import CascadePolicy
from serve_app.cascade.runner import Attempt, Cascade, CascadeCall
from serve_app.cascade.streaming import StreamingCascade
from serve_app.errors import APIError, bad_request, tier_unavailable
from serve_app.limits import LimitsConfig
from serve_app.protocol import ChatRequest, parse_chat_request
from serve_app.request_deadline import RequestDeadline, RequestDeadlineReached, request_deadline
from serve_app.routing.decision import RouteDecision
from serve_app.tier_client import StreamOptions, TierClient, with_tier_usage
from serve_app.vocabulary import AUTO, LARGE, SMALL, AnswerReason, RouteReason, Tier, answer_reason

logger = logging.getLogger(__name__)

RouteFn = Callable[[list[dict[str, Any]]], Awaitable[RouteDecision]]
RequestFactory = Callable[[dict[str, Any]], Any]


@dataclass
class ChatResult:
    """What the HTTP layer sends back (a JSON body or an SSE stream, plus evidence headers) and
    what the request did, for metrics and shadowing."""

    headers: dict[str, str]
    body: Optional[dict[str, Any]] = None
    stream: Optional[AsyncIterator[str]] = None
    tier: Tier = LARGE
    reason: AnswerReason = AnswerReason.ROUTED
    attempts: list[Attempt] = field(default_factory=list)  # streams fill usage in as they end
    small_answer: Optional[dict[str, Any]] = None  # the small tier's answer, when it was returned
    route_score: Optional[float] = None
    cascade_judged: bool = False
    request_body: dict[str, Any] = field(default_factory=dict)  # parsed, extension field removed
    prefix: Any = None  # cascade.streaming.PrefixDecision, when a streamed answer was judged on a prefix
    confidence: Optional[float] = None  # the cascade's confidence in the small answer (unrounded)
    confidence_method: Optional[str] = None  # the method that computed it, when the cascade ran
    discarded_small: Optional[dict[str, Any]] = None  # the whole small answer an escalation replaced

    @property
    def reached_large(self) -> bool:
        return self.tier == LARGE


@dataclass
class Route:
    """The tier chosen for one request and why."""

    tier: Tier
    reason: RouteReason
    decision: Optional[RouteDecision] = None
    degraded: Optional[Tier] = None  # the tier that was down when an auto request failed over

    def headers(self) -> dict[str, str]:
        out = {H.TIER: self.tier, H.ROUTE_REASON: self.reason.value}
        if self.degraded is not None:
            out[H.DEGRADED] = f"{self.degraded}-down"
        if self.decision is None:
            out[H.STRATEGY] = "direct" if self.reason is RouteReason.DIRECT else "none"
            return out
        out[H.SCORE] = f"{self.decision.score:.3f}"
        out[H.STRATEGY] = self.decision.strategy
        out[H.THRESHOLD] = f"{self.decision.threshold:g}"
        out[H.CACHED] = "1" if self.decision.cached else "0"
        return out


def _validation_message(exc: ValidationError) -> tuple[str, Optional[str]]:
    first = exc.errors()[0] if exc.errors() else {}
    loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
    return f"Invalid request: {loc + ': ' if loc else ''}{first.get('msg', str(exc))}", loc


class ChatFlow:
    """The ingress's request logic. `cascade_policy` may be replaced live (ingress reconfigure).

    `deadline_s` bounds the whole request until its answer (or first stream chunk) is ready:
    routing, the small attempt and any escalation share it; then the client gets a 503. The tier still
    being waited on then counts as failed, when it had enough of the time (serve_app/request_deadline.py)."""

    def __init__(
        self,
        route_fn: RouteFn,
        tiers: dict[str, TierClient],
        request_factory: RequestFactory,
        router_timeout_s: float = 5.0,
        cascade_policy: Optional[CascadePolicy] = None,
        limits: Optional[LimitsConfig] = None,
        deadline_s: Optional[float] = None,
    ):
        self.route_fn = route_fn
        self.tiers = tiers
        self.request_factory = request_factory
        self.router_timeout_s = router_timeout_s
        self.cascade_policy = cascade_policy or CascadePolicy()
        self.limits = limits or LimitsConfig()
        self.deadline_s = deadline_s
        self.cascade = Cascade(tiers[SMALL], tiers[LARGE], self.make_request)
        self.streaming_cascade = StreamingCascade(tiers[SMALL], tiers[LARGE], self.make_request)

    def make_request(self, body: dict[str, Any]) -> Any:
        """The engine's request object for `body`, or a 400 naming the bad field."""
        try:
            return self.request_factory(body)
        except ValidationError as exc:
            raise bad_request(*_validation_message(exc)) from None
        except Exception as exc:  # engines raise their own validation errors (e.g. VLLMValidationError)
            first_line = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise bad_request(f"Invalid request: {first_line}") from None

    async def run(self, raw_body: bytes) -> ChatResult:
        """Every client mistake is a 4xx before any tier (or the router) sees the request."""
        chat = parse_chat_request(raw_body, self.limits)
        request = self.make_request(with_tier_usage(chat.body) if chat.stream else chat.body)
        evidence: dict[str, str] = {}
        if self.deadline_s is None:
            return await self._serve(chat, request, evidence)
        deadline = RequestDeadline(asyncio.get_running_loop().time() + self.deadline_s, self.deadline_s)
        try:
            with request_deadline(deadline):
                async with asyncio.timeout_at(deadline.at):
                    return await self._serve(chat, request, evidence)
        except TimeoutError as exc:  # the deadline itself, or a tier's wait cut short by it (RequestDeadlineReached)
            # The message names the tier waited on (large, in an escalation); the headers keep the route's.
            tier = exc.tier if isinstance(exc, RequestDeadlineReached) else evidence.get(H.TIER, "model")
            error = tier_unavailable(tier, f"no answer within {self.deadline_s:g}s (request deadline)")
            error.headers = dict(evidence)
            raise error from None

    async def _serve(self, chat: ChatRequest, request: Any, evidence: dict[str, str]) -> ChatResult:
        policy, cascade_on = effective_policy(self.cascade_policy, chat.extension.cascade)
        route = self._failover(await self._route(chat, policy))
        try:
            return await self._answer(route, chat, request, policy, cascade_on, evidence)
        except APIError as exc:
            retry = None if self._cascades(route, cascade_on) else self._retry_route(route, exc)
            if retry is None:
                raise
            logger.warning("%s tier failed (%d); auto request fails over to %s", route.tier, exc.status, retry.tier)
            return await self._answer(retry, chat, request, policy, False, evidence)

    async def _answer(
        self,
        route: Route,
        chat: ChatRequest,
        request: Any,
        policy: CascadePolicy,
        cascade_on: bool,
        evidence: dict[str, str],
    ) -> ChatResult:
        body, stream = chat.body, chat.stream
        options = StreamOptions(include_usage=chat.include_usage)
        evidence.clear()
        evidence.update(route.headers())
        score = route.decision.score if route.decision else None
        try:
            if self._cascades(route, cascade_on):
                call = CascadeCall(body, policy, stream, options)
                streamed = stream and policy.streaming == "prefix" and policy.method != "self_assessment"
                outcome = await (self.streaming_cascade if streamed else self.cascade).run(call)
                reason = answer_reason(route.reason, outcome.reason, outcome.escalated)
                return ChatResult(
                    {**evidence, **outcome.headers()},
                    outcome.body,
                    outcome.stream,
                    outcome.tier,
                    reason,
                    outcome.attempts,
                    outcome.answer,
                    score,
                    True,
                    body,
                    outcome.prefix,
                    outcome.confidence,
                    outcome.method,
                    outcome.discarded_answer,
                )
            attempt = Attempt(route.tier)
            result = ChatResult(
                dict(evidence),
                tier=route.tier,
                reason=answer_reason(route.reason),
                attempts=[attempt],
                route_score=score,
                request_body=body,
            )
            if stream:
                options.on_usage = lambda usage: setattr(attempt, "usage", usage)
                result.stream = await self.tiers[route.tier].open_stream(request, options)
            else:
                result.body = await self.tiers[route.tier].complete(request)
                attempt.usage = result.body.get("usage")
                result.small_answer = result.body if route.tier == SMALL else None
            return result
        except APIError as exc:
            exc.headers = {**evidence, **(exc.headers or {})}
            raise

    @staticmethod
    def _cascades(route: Route, cascade_on: bool) -> bool:
        """Whether this route runs the cascade (which has its own small-error policy)."""
        return route.tier == SMALL and route.reason in (RouteReason.ROUTED, RouteReason.CASCADE_ONLY) and cascade_on

    def _failover(self, route: Route) -> Route:
        """An auto request whose tier is down (breaker open) goes to the other tier, marked degraded;
        a request naming a tier keeps it (its client gets a prompt 503 with Retry-After)."""
        if route.reason is RouteReason.DIRECT or self.tiers[route.tier].breaker.available():
            return route
        return self._other_route(route) or route

    def _retry_route(self, route: Route, error: APIError) -> Optional[Route]:
        """The other tier for an auto request whose tier failed (5xx) before answering, once."""
        if route.reason in (RouteReason.DIRECT, RouteReason.FAILOVER) or error.status < 500:
            return None
        return self._other_route(route)

    def _other_route(self, route: Route) -> Optional[Route]:
        """`route` moved to the other tier (marked degraded), or None while that tier is down too."""
        other = LARGE if route.tier == SMALL else SMALL
        if not self.tiers[other].breaker.available():
            return None
        return Route(tier=other, reason=RouteReason.FAILOVER, decision=route.decision, degraded=route.tier)

    async def _route(self, chat: ChatRequest, policy: CascadePolicy) -> Route:
        if chat.model != AUTO:
            return Route(tier=chat.model, reason=RouteReason.DIRECT)
        if policy.mode == "cascade_only":
            return Route(tier=SMALL, reason=RouteReason.CASCADE_ONLY)
        try:
            decision = await asyncio.wait_for(self.route_fn(chat.messages), self.router_timeout_s)
        except Exception as exc:  # the router is an optimisation: never fail a request for it
            logger.warning("router failed (%s); sending the request to the large tier", type(exc).__name__)
            return Route(tier=LARGE, reason=RouteReason.ROUTER_FALLBACK)
        return Route(tier=decision.tier, reason=RouteReason.ROUTED, decision=decision)
