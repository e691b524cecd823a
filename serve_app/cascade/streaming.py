"""The streaming cascade (`streaming: prefix`): the small tier streams into a holding buffer, its
first tokens are judged, then the buffer is flushed and the rest relayed live (commit), or the small
stream is closed, so its engine stops, and the large tier's answer streams instead (abort). The
client never sees a token of an abandoned answer.

Evidence is decided at the decision: headers as in the buffered mode. The final verdict (the late
check of the whole committed answer, which may only annotate, and every attempt's usage) goes in
the final usage chunk's `tier_router` field when the client asked for usage, and always in a
trailing SSE comment `: tier_router {...}` before `data: [DONE]`.
"""

import logging
from dataclasses import dataclass
from typing import Any, Callable, Optional

from serve_app.cascade.methods import answer_confidence
from serve_app.cascade.policy import CascadePolicy
from serve_app.cascade.prefix import ClientView, Prefix, client_stream, close_quietly, first_choice, hold_prefix
from serve_app.cascade.runner import Attempt, CascadeCall, CascadeOutcome, failure_kind, large_failure
from serve_app.errors import APIError
from serve_app.request_deadline import RequestDeadlineReached
from serve_app.tier_client import StreamOptions, TierClient, with_tier_usage
from serve_app.vocabulary import LARGE, SMALL, EscalationReason

logger = logging.getLogger(__name__)


@dataclass
class PrefixDecision:
    """How the prefix was decided, for the metrics and the verdict."""

    decision: str  # commit | abort | small-error
    tokens: int  # tokens judged
    whole: bool  # the answer ended inside the prefix
    elapsed_s: float


def prefix_request(body: dict[str, Any], top_logprobs: int) -> dict[str, Any]:
    """The small tier's body: streamed, with token logprobs and running usage (to account for an
    abandoned prefix exactly)."""
    options = {**(body.get("stream_options") or {}), "include_usage": True, "continuous_usage_stats": True}
    return {
        **body,
        "stream": True,
        "stream_options": options,
        "logprobs": True,
        "top_logprobs": max(top_logprobs, int(body.get("top_logprobs") or 0)),
    }


def judge(logprobs: Optional[dict[str, Any]], policy: CascadePolicy) -> Optional[float]:
    """Confidence of (the first tokens of) an answer with these logprobs under the policy's method:
    the function the buffered cascade applies to the whole answer. None (escalate) when it cannot
    be computed."""
    return None if logprobs is None else answer_confidence(policy.method, logprobs, policy)


def _recorder(attempt: Attempt) -> StreamOptions:
    """Stream options that pass the usage frame on and record it on `attempt`."""
    return StreamOptions(True, lambda usage: setattr(attempt, "usage", usage))


class LateCheck:
    """Confidence of the whole committed answer, gathered as it streams; only annotates."""

    def __init__(self, policy: CascadePolicy):
        self.policy = policy
        self.tokens: list[dict[str, Any]] = []

    def observe(self, chunk: dict[str, Any]) -> None:
        choice = first_choice(chunk)
        if choice is not None:
            self.tokens.extend((choice.get("logprobs") or {}).get("content") or [])

    def verdict(self) -> dict[str, Any]:
        confidence = judge({"content": self.tokens}, self.policy)
        low = confidence is None or confidence < self.policy.threshold
        return {"confidence": confidence, "verdict": "low-confidence" if low else "confident"}


class StreamingCascade:
    """Runs the prefix-judged escalation edge for one streamed request (any logprob method)."""

    def __init__(self, small: TierClient, large: TierClient, make_request: Callable[[dict], Any]):
        self.small = small
        self.large = large
        self.make_request = make_request

    async def run(self, call: CascadeCall) -> CascadeOutcome:
        body, policy = call.body, call.policy
        view = ClientView.of(body)
        small = Attempt(SMALL)
        try:
            frames = await self.small.open_stream(
                self.make_request(prefix_request(body, policy.top_logprobs)), _recorder(small)
            )
        except APIError as exc:
            return await self._small_failed(exc, body, policy, view, small, None)
        try:
            held = await hold_prefix(frames, self.small.name, policy.prefix_tokens, policy.prefix_window_s)
        except BaseException:  # cancelled (the client went away) or a bug: stop the small engine
            await close_quietly(frames)
            raise
        if held.error is not None:
            await close_quietly(frames)
            return await self._small_failed(held.error, body, policy, view, small, held)
        small.confidence = judge(held.logprobs(), policy)
        decision = PrefixDecision("commit", held.count, held.finished, held.elapsed_s)
        if small.confidence is not None and small.confidence >= policy.threshold:
            return self._commit(held, frames, view, policy, [small], EscalationReason.CONFIDENT, decision)
        decision.decision = "abort"
        if not held.ended:
            await close_quietly(frames)
            small.usage = held.paid_usage()
        small.discarded = True
        whole = (held, frames) if held.ended else None
        return await self._escalate(body, policy, view, [small], EscalationReason.LOW_CONFIDENCE, decision, whole)

    async def _small_failed(
        self, exc: APIError, body, policy, view, small: Attempt, held: Optional[Prefix]
    ) -> CascadeOutcome:
        if exc.status < 500 or policy.on_small_error == "fail":
            raise exc
        logger.warning("small tier failed (%d); falling back to the large tier", exc.status)  # never the message
        small.discarded, small.error = True, exc.message
        small.usage = held.paid_usage() if held is not None else None
        decision = PrefixDecision("small-error", held.count if held else 0, False, held.elapsed_s if held else 0.0)
        return await self._escalate(body, policy, view, [small], EscalationReason.SMALL_ERROR, decision, None)

    def _commit(
        self,
        held: Prefix,
        frames,
        view: ClientView,
        policy: CascadePolicy,
        attempts: list[Attempt],
        reason: EscalationReason,
        decision: PrefixDecision,
    ) -> CascadeOutcome:
        outcome = CascadeOutcome(SMALL, False, reason, policy.method, attempts[0].confidence, attempts)
        late = LateCheck(policy) if policy.late_check else None

        def verdict() -> dict[str, Any]:
            extra = {"late_check": late.verdict()} if late is not None else {}
            return {**outcome.extension(), "prefix": decision.__dict__, **extra}

        outcome.stream = client_stream(
            held.chunks, frames, view, verdict, late.observe if late is not None else lambda chunk: None
        )
        outcome.prefix = decision
        return outcome

    async def _escalate(
        self,
        body,
        policy: CascadePolicy,
        view: ClientView,
        attempts: list[Attempt],
        reason: EscalationReason,
        decision: PrefixDecision,
        whole: Optional[tuple[Prefix, Any]],
    ) -> CascadeOutcome:
        """The large tier's live stream; if it cannot start and the small answer is whole, that."""
        large = Attempt(LARGE)
        try:
            frames = await self.large.open_stream(self.make_request(with_tier_usage(body)), _recorder(large))
        except (APIError, RequestDeadlineReached) as exc:
            error = large_failure(exc)
            if whole is None or error is None or policy.on_large_error == "fail":
                raise
            logger.warning("escalation failed (%s); returning the small answer", failure_kind(exc))  # never the message
            large.error, large.discarded = error, True
            attempts[0].discarded = False
            return self._commit(
                whole[0], whole[1], view, policy, [*attempts, large], EscalationReason.ESCALATION_FAILED, decision
            )
        outcome = CascadeOutcome(LARGE, True, reason, policy.method, attempts[0].confidence, [*attempts, large])
        outcome.stream = client_stream([], frames, view, lambda: {**outcome.extension(), "prefix": decision.__dict__})
        outcome.prefix = decision
        return outcome
