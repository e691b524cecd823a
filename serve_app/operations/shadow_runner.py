"""Runs sampled shadow calls in the background: the tier that did NOT answer a request is asked
too, so every sampled request yields a (small, large) pair whichever way it was routed. Never
awaited by the request, bounded in flight, failures only counted and logged."""

import asyncio
import random
import time
from typing import Any, Callable, Optional

from serve_app.bounded_tasks import BoundedTasks
from serve_app.operations.shadow import ShadowPair, ShadowStore
from serve_app.routing.text import select_text
from serve_app.vocabulary import LARGE, SMALL


def request_category(body: dict[str, Any]) -> Optional[str]:
    """The request's `metadata.category` (OpenAI's developer tags), cut to 64 characters."""
    metadata = body.get("metadata")
    category = metadata.get("category") if isinstance(metadata, dict) else None
    return category[:64] if isinstance(category, str) and category else None


class ShadowRunner:
    """`tiers` maps `small` and `large` to TierClients; `on_pair(pair_id, pair)` is told of every
    recorded pair (the judge samples from there)."""

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
    ):
        self.tiers = tiers
        self.store = store
        self.sample_rate = sample_rate
        self.request_factory = request_factory
        self.rng = rng
        self.on_event = on_event or (lambda event: None)
        self.on_pair = on_pair or (lambda pair_id, pair: None)
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
    ) -> bool:
        """Sample this answer for shadowing; returns whether a shadow call started."""
        if self.sample_rate <= 0 or self.rng() >= self.sample_rate:
            return False
        if self.tasks.full:
            self.on_event("dropped")
            return False
        self.tasks.start(self._run(body, answered_tier, content, latency_s, route_score, confidence))
        return True

    async def _run(self, body, answered_tier, content, latency_s, route_score, confidence) -> None:
        other = LARGE if answered_tier == SMALL else SMALL
        request = self.request_factory({k: v for k, v in body.items() if k != "stream_options"} | {"stream": False})
        start = time.perf_counter()
        response = await self.tiers[other].complete(request)
        other_latency = time.perf_counter() - start
        other_content = (response["choices"][0].get("message") or {}).get("content") or ""
        answers = {answered_tier: (content, latency_s), other: (other_content, other_latency)}
        pair = ShadowPair(
            select_text(body["messages"]),
            answers[SMALL][0],
            answers[LARGE][0],
            answers[SMALL][1],
            answers[LARGE][1],
            route_score,
            answered_tier,
            request_category(body),
            confidence,
        )
        pair_id, _ = await asyncio.to_thread(self.store.record, pair)
        self.on_event("recorded")
        self.on_pair(pair_id, pair)
