"""The escalation edge: small tier -> judge confidence -> maybe re-run on the large tier."""

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Optional

from serve_app import headers as H
from serve_app.cascade.confidence import (
    logprob_request,
    parse_self_assessment,
    self_assessment_request,
)
from serve_app.cascade.methods import answer_confidence
from serve_app.cascade.override import EXTENSION_FIELD
from serve_app.cascade.policy import CascadePolicy
from serve_app.cascade.replay import replay
from serve_app.errors import APIError
from serve_app.request_deadline import RequestDeadlineReached
from serve_app.tier_client import StreamOptions, TierClient, with_tier_usage
from serve_app.vocabulary import LARGE, SMALL, EscalationReason, Tier

logger = logging.getLogger(__name__)


@dataclass
class Attempt:
    """One paid call to a tier."""

    tier: Tier
    usage: Optional[dict[str, int]] = None
    confidence: Optional[float] = None
    discarded: bool = False
    error: Optional[str] = None

    def header_value(self) -> str:
        usage = self.usage or {}
        return (
            f"{self.tier};prompt={usage.get('prompt_tokens', 0)};"
            f"completion={usage.get('completion_tokens', 0)};discarded={int(self.discarded)}"
        )


@dataclass
class CascadeOutcome:
    """What the client gets, and the evidence of how it came about."""

    tier: Tier
    escalated: bool
    reason: EscalationReason
    method: str
    confidence: Optional[float]
    attempts: list[Attempt] = field(default_factory=list)
    body: Optional[dict[str, Any]] = None
    stream: Optional[AsyncIterator[str]] = None
    answer: Optional[dict[str, Any]] = None  # the small answer returned, when it was
    discarded_answer: Optional[dict[str, Any]] = None  # the small answer an escalation replaced
    prefix: Any = None  # streaming.PrefixDecision, when a streamed answer was judged on a prefix

    def headers(self) -> dict[str, str]:
        return {
            H.TIER: self.tier,
            H.CONFIDENCE: "none" if self.confidence is None else f"{self.confidence:.3f}",
            H.CONFIDENCE_METHOD: self.method,
            H.ESCALATED: "yes" if self.escalated else "no",
            H.ESCALATION_REASON: self.reason.value,
            H.TIERS_USED: ",".join(a.tier for a in self.attempts),
            H.ATTEMPTS: ", ".join(a.header_value() for a in self.attempts),
        }

    def extension(self) -> dict[str, Any]:
        """The `tier_router` field added to non-streaming response bodies."""
        return {
            "escalated": self.escalated,
            "escalation_reason": self.reason.value,
            "confidence": self.confidence,
            "confidence_method": self.method,
            "attempts": [a.__dict__ for a in self.attempts],
        }


def _client_view(response: dict[str, Any], body: dict[str, Any], content: Optional[str]) -> dict[str, Any]:
    """The small answer as the client should see it: unwrapped content, logprobs only if asked."""
    out = copy.deepcopy(response)
    wants = body.get("logprobs") is True
    top = int(body.get("top_logprobs") or 0)
    for choice in out.get("choices", []):
        if content is not None:
            choice.setdefault("message", {})["content"] = content
        if not wants:
            choice.pop("logprobs", None)
        elif choice.get("logprobs"):
            for token in choice["logprobs"].get("content") or []:
                token["top_logprobs"] = (token.get("top_logprobs") or [])[:top]
    return out


def large_failure(exc: Exception) -> Optional[str]:
    """The error to record when `exc` is a large-tier failure the small answer may stand in for under
    `on_large_error: return_small` (a 5xx, or the request deadline cutting the wait for large: the
    small answer is in hand, no tier call is needed), else None (the client's mistake: raise it)."""
    if isinstance(exc, RequestDeadlineReached):
        return str(exc)
    if isinstance(exc, APIError) and exc.status >= 500:
        return exc.message
    return None


def failure_kind(exc: Exception) -> str:
    """What to log for a large-tier failure: its status, never its message (it may echo the prompt)."""
    return str(exc.status) if isinstance(exc, APIError) else "request deadline"


def _recording_usage(options: StreamOptions, attempt: Attempt) -> StreamOptions:
    """`options` that also record the stream's usage on `attempt` (known only when it ends)."""

    def on_usage(usage: dict[str, Any]) -> None:
        attempt.usage = usage
        if options.on_usage is not None:
            options.on_usage(usage)

    return StreamOptions(options.include_usage, on_usage)


@dataclass
class CascadeCall:
    """One request's cascade: the client's body, the effective policy, and how the client wants
    the answer (streamed or not, usage chunk or not)."""

    body: dict[str, Any]
    policy: CascadePolicy
    stream: bool
    options: StreamOptions


class Cascade:
    """Runs the escalation edge for one request."""

    def __init__(self, small: TierClient, large: TierClient, request_factory: Callable[[dict], Any]):
        self.small = small
        self.large = large
        self.request_factory = request_factory

    async def run(self, call: CascadeCall) -> CascadeOutcome:
        policy = call.policy
        if policy.method == "self_assessment":
            small_body = self_assessment_request(call.body, policy.self_assessment_prompt)
        else:
            small_body = logprob_request(call.body, policy.top_logprobs)
        try:
            response = await self.small.complete(self.request_factory(small_body))
        except APIError as exc:
            if exc.status < 500 or policy.on_small_error == "fail":
                raise
            logger.warning("small tier failed (%d); falling back to the large tier", exc.status)  # never the message
            failed = Attempt(SMALL, discarded=True, error=exc.message)
            return await self._escalate(call, [failed], None, EscalationReason.SMALL_ERROR)

        confidence, answer = self._judge(call, response)
        attempt = Attempt(SMALL, response.get("usage"), confidence)
        if answer is None:  # nothing usable to return, even if the large tier fails
            attempt.discarded = True
            return await self._escalate(call, [attempt], None, EscalationReason.LOW_CONFIDENCE)
        if confidence is not None and confidence >= policy.threshold:
            return self._answer_small(call, answer, [attempt], EscalationReason.CONFIDENT, confidence)
        attempt.discarded = True
        return await self._escalate(call, [attempt], answer, EscalationReason.LOW_CONFIDENCE)

    def _judge(self, call: CascadeCall, response: dict[str, Any]) -> tuple[Optional[float], Optional[dict[str, Any]]]:
        """(confidence, the answer as the client would see it, or None when there is none)."""
        choice = (response.get("choices") or [{}])[0]
        if call.policy.method != "self_assessment":
            confidence = answer_confidence(call.policy.method, choice.get("logprobs"), call.policy)
            return confidence, _client_view(response, call.body, None)
        raw = (choice.get("message") or {}).get("content")
        content, confidence = parse_self_assessment(raw, choice.get("finish_reason") == "length")
        return confidence, None if content is None else _client_view(response, call.body, content)

    def _answer_small(
        self,
        call: CascadeCall,
        answer: dict[str, Any],
        attempts: list[Attempt],
        reason: EscalationReason,
        confidence: Optional[float],
    ) -> CascadeOutcome:
        outcome = CascadeOutcome(SMALL, False, reason, call.policy.method, confidence, attempts, answer=answer)
        if call.stream:
            outcome.stream = replay(answer, call.options.include_usage)
        else:
            outcome.body = {**answer, EXTENSION_FIELD: outcome.extension()}
        return outcome

    async def _escalate(
        self,
        call: CascadeCall,
        attempts: list[Attempt],
        small_answer: Optional[dict[str, Any]],
        reason: EscalationReason,
    ) -> CascadeOutcome:
        confidence = attempts[0].confidence
        large = Attempt(LARGE)
        outcome = CascadeOutcome(LARGE, True, reason, call.policy.method, confidence, [*attempts, large])
        outcome.discarded_answer = small_answer
        try:
            if call.stream:
                request = self.request_factory(with_tier_usage(call.body))
                outcome.stream = await self.large.open_stream(request, _recording_usage(call.options, large))
                return outcome
            response = await self.large.complete(self.request_factory(call.body))
        except (APIError, RequestDeadlineReached) as exc:
            error = large_failure(exc)
            if small_answer is None or error is None or call.policy.on_large_error == "fail":
                raise
            logger.warning("escalation failed (%s); returning the small answer", failure_kind(exc))  # never the message
            large.error, large.discarded = error, True
            attempts[0].discarded = False
            return self._answer_small(
                call, small_answer, [*attempts, large], EscalationReason.ESCALATION_FAILED, confidence
            )
        large.usage = response.get("usage")
        outcome.body = {**response, EXTENSION_FIELD: outcome.extension()}
        return outcome
