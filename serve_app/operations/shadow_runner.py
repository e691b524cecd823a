"""Runs sampled shadow calls in the background: the tier that did NOT answer a request is asked
too, so every sampled request yields a (small, large) pair whichever way it was routed (an
escalated request already has both answers: it is recorded without a call). Never awaited by the
request, bounded in flight, failures only counted and logged.

Each pair carries the small answer's confidence under the cascade's method: the cascade's own
for an answer it judged, and for a small answer asked in shadow, computed from its token logprobs
with the live cascade policy (logprob methods; `self_assessment` would change the answer, so such
pairs have none). `tier-router retrain` refits the cascade threshold on them."""

import asyncio
import random
import time
from dataclasses import replace
from typing import Any, Callable, Optional

from serve_app.bounded_tasks import BoundedTasks
from serve_app.cascade.confidence import logprob_request
from serve_app.cascade.methods import LOGPROB_METHODS, answer_confidence
from serve_app.operations.shadow import ShadowPair, ShadowStore
from serve_app.routing.text import select_text
from serve_app.vocabulary import LARGE, SMALL


def request_category(body: dict[str, Any]) -> Optional[str]:
    """The request's `metadata.category` (OpenAI's developer tags), cut to 64 characters."""
    metadata = body.get("metadata")
    category = metadata.get("category") if isinstance(metadata, dict) else None
    return category[:64] if isinstance(category, str) and category else None


def answer_text(response: dict[str, Any]) -> str:
    """The text of an OpenAI chat answer ("" when it has none)."""
    return ((response.get("choices") or [{}])[0].get("message") or {}).get("content") or ""


class ShadowRunner:
    """`tiers` maps `small` and `large` to TierClients; `on_pair(pair_id, pair)` is told of every
    recorded pair (the judge samples from there); `cascade_policy()` is the live cascade policy
    (None: shadow small answers get no confidence)."""

    def __init__(
        self,
        tiers: dict[str, Any],
        store: ShadowStore,
        sample_rate: float,
        max_in_flight: int,
        request_factory: Callable[[dict], Any],
        rng: Callable[[], float] = random.random,
        on_event: Optional[Callable[[str], None]] = None,
        on_pair: Optional[Callable[[int, ShadowPair], None]] = None,
        cascade_policy: Optional[Callable[[], Any]] = None,
    ):
        self.tiers = tiers
        self.store = store
        self.sample_rate = sample_rate
        self.request_factory = request_factory
        self.rng = rng
        self.on_event = on_event or (lambda event: None)
        self.on_pair = on_pair or (lambda pair_id, pair: None)
        self.cascade_policy = cascade_policy or (lambda: None)
        self.tasks = BoundedTasks(max_in_flight, self.on_event, "shadow call")

    @property
    def in_flight(self) -> int:
        return self.tasks.in_flight

    def maybe_start(
        self,
        body: dict[str, Any],
        answered_tier: str,
        content: str,
        latency_s: Optional[float],
        route_score: Optional[float],
        confidence: Optional[float] = None,
        confidence_method: Optional[str] = None,
    ) -> bool:
        """Sample this answer for shadowing; returns whether a shadow call started."""
        if not self._sampled():
            return False
        known = (confidence, confidence_method)
        self.tasks.start(self._run(body, answered_tier, content, latency_s, route_score, known))
        return True

    def maybe_record(
        self,
        body: dict[str, Any],
        small: str,
        large: str,
        route_score: Optional[float],
        confidence: Optional[float],
        confidence_method: Optional[str],
    ) -> bool:
        """Sample an escalated request's pair (both answers already paid for) for recording."""
        if not self._sampled():
            return False
        pair = ShadowPair(
            select_text(body["messages"]), small, large, None, None, route_score, LARGE, request_category(body)
        )
        self.tasks.start(self._store(pair, confidence, confidence_method))
        return True

    def _sampled(self) -> bool:
        if self.sample_rate <= 0 or self.rng() >= self.sample_rate:
            return False
        if self.tasks.full:
            self.on_event("dropped")
            return False
        return True

    def _small_request(self, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The shadow small call's body, with token logprobs when the live method reads them."""
        policy = self.cascade_policy()
        if policy is None or policy.method not in LOGPROB_METHODS:
            return body, None
        return logprob_request(body, policy.top_logprobs), policy

    async def _run(self, body, answered_tier, content, latency_s, route_score, known) -> None:
        other = LARGE if answered_tier == SMALL else SMALL
        plain = {k: v for k, v in body.items() if k != "stream_options"} | {"stream": False}
        sent, policy = self._small_request(plain) if other == SMALL else (plain, None)
        start = time.perf_counter()
        response = await self.tiers[other].complete(self.request_factory(sent))
        other_latency = time.perf_counter() - start
        if policy is not None:
            logprobs = ((response.get("choices") or [{}])[0]).get("logprobs")
            known = (answer_confidence(policy.method, logprobs, policy), policy.method)
        answers = {answered_tier: (content, latency_s), other: (answer_text(response), other_latency)}
        pair = ShadowPair(
            select_text(body["messages"]),
            answers[SMALL][0],
            answers[LARGE][0],
            answers[SMALL][1],
            answers[LARGE][1],
            route_score,
            answered_tier,
            request_category(body),
        )
        await self._store(pair, *known)

    async def _store(self, pair: ShadowPair, confidence: Optional[float], method: Optional[str]) -> None:
        pair = replace(pair, confidence=confidence, confidence_method=method)
        pair_id, _ = await asyncio.to_thread(self.store.record, pair)
        self.on_event("recorded")
        self.on_pair(pair_id, pair)
