"""The escalation edge: small tier -> judge confidence -> maybe re-run on the large tier."""

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Optional

from serve_app import headers as H
from serve_app.cascade.confidence import (
    logprob_confidence,
    logprob_request,
    parse_self_assessment,
    self_assessment_request,
)
from serve_app.cascade.policy import CascadePolicy
from serve_app.cascade.replay import replay
from serve_app.errors import APIError
from serve_app.tier_client import StreamOptions, TierClient, with_tier_usage

logger = logging.getLogger(__name__)


@dataclass
class Attempt:
    """One paid call to a tier."""

    tier: str
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

    tier: str
    escalated: bool
    reason: str  # confident | low-confidence | small-error | escalation-failed
    method: str
    confidence: Optional[float]
    attempts: list[Attempt] = field(default_factory=list)
    body: Optional[dict[str, Any]] = None
    stream: Optional[AsyncIterator[str]] = None
    answer: Optional[dict[str, Any]] = None  # the small answer returned, when it was

    def headers(self) -> dict[str, str]:
        return {
            H.TIER: self.tier,
            H.CONFIDENCE: "none" if self.confidence is None else f"{self.confidence:.3f}",
            H.CONFIDENCE_METHOD: self.method,
            H.ESCALATED: "yes" if self.escalated else "no",
            H.ESCALATION_REASON: self.reason,
            H.TIERS_USED: ",".join(a.tier for a in self.attempts),
            H.ATTEMPTS: ", ".join(a.header_value() for a in self.attempts),
        }

    def extension(self) -> dict[str, Any]:
        """The `tier_router` field added to non-streaming response bodies."""
        return {
            "escalated": self.escalated,
            "escalation_reason": self.reason,
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


def _recording_usage(options: StreamOptions, attempt: Attempt) -> StreamOptions:
    """`options` that also record the stream's usage on `attempt` (known only when it ends)."""

    def on_usage(usage: dict[str, Any]) -> None:
        attempt.usage = usage
        if options.on_usage is not None:
            options.on_usage(usage)

    return StreamOptions(options.include_usage, on_usage)


class Cascade:
    """Runs the escalation edge for one request."""

    def __init__(self, small: TierClient, large: TierClient, request_factory: Callable[[dict], Any]):
        self.small = small
        self.large = large
        self.request_factory = request_factory

    async def run(
        self, body: dict[str, Any], policy: CascadePolicy, stream: bool, options: StreamOptions
    ) -> CascadeOutcome:
        if policy.method == "logprobs":
            small_body = logprob_request(body, policy.top_logprobs)
        else:
            small_body = self_assessment_request(body, policy.self_assessment_prompt)
        try:
            response = await self.small.complete(self.request_factory(small_body))
        except APIError as exc:
            if exc.status < 500 or policy.on_small_error == "fail":
                raise
            logger.warning("small tier failed (%s); falling back to the large tier", exc.message)
            failed = Attempt("small", discarded=True, error=exc.message)
            return await self._escalate(body, policy, stream, options, [failed], None, "small-error")

        confidence, answer = self._judge(response, body, policy)
        attempt = Attempt("small", response.get("usage"), confidence)
        if answer is None:  # nothing usable to return, even if the large tier fails
            attempt.discarded = True
            return await self._escalate(body, policy, stream, options, [attempt], None, "low-confidence")
        if confidence is not None and confidence >= policy.threshold:
            return self._answer_small(answer, body, policy, stream, options, [attempt], "confident", confidence)
        attempt.discarded = True
        return await self._escalate(body, policy, stream, options, [attempt], answer, "low-confidence")

    def _judge(
        self, response: dict[str, Any], body: dict[str, Any], policy: CascadePolicy
    ) -> tuple[Optional[float], Optional[dict[str, Any]]]:
        """(confidence, the answer as the client would see it, or None when there is none)."""
        choice = (response.get("choices") or [{}])[0]
        if policy.method == "logprobs":
            confidence = logprob_confidence(choice.get("logprobs"), policy.logprob_weight)
            return confidence, _client_view(response, body, None)
        raw = (choice.get("message") or {}).get("content")
        content, confidence = parse_self_assessment(raw, choice.get("finish_reason") == "length")
        return confidence, None if content is None else _client_view(response, body, content)

    def _answer_small(
        self, answer, body, policy, stream, options, attempts, reason, confidence, escalated=False
    ) -> CascadeOutcome:
        outcome = CascadeOutcome("small", escalated, reason, policy.method, confidence, attempts, answer=answer)
        if stream:
            outcome.stream = replay(answer, options.include_usage)
        else:
            outcome.body = {**answer, "tier_router": outcome.extension()}
        return outcome

    async def _escalate(self, body, policy, stream, options, attempts, small_answer, reason) -> CascadeOutcome:
        confidence = attempts[0].confidence
        large = Attempt("large")
        try:
            if stream:
                request = self.request_factory(with_tier_usage(body))
                outcome = CascadeOutcome("large", True, reason, policy.method, confidence, [*attempts, large])
                outcome.stream = await self.large.open_stream(request, _recording_usage(options, large))
                return outcome
            response = await self.large.complete(self.request_factory(body))
        except APIError as exc:
            if small_answer is None or exc.status < 500 or policy.on_large_error == "fail":
                raise
            logger.warning("escalation failed (%s); returning the small answer", exc.message)
            large.error, large.discarded = exc.message, True
            attempts[0].discarded = False
            return self._answer_small(
                small_answer, body, policy, stream, options, [*attempts, large], "escalation-failed", confidence
            )
        large.usage = response.get("usage")
        outcome = CascadeOutcome("large", True, reason, policy.method, confidence, [*attempts, large])
        outcome.body = {**response, "tier_router": outcome.extension()}
        return outcome
