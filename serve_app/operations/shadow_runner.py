"""Runs sampled shadow calls to the large tier in the background: never awaited by the request,
bounded in flight, failures only counted and logged."""

import asyncio
import logging
import random
import time
from typing import Any, Callable, Optional

from serve_app.operations.shadow import ShadowStore
from serve_app.routing.text import select_text

logger = logging.getLogger(__name__)


class ShadowRunner:
    def __init__(
        self,
        large: Any,
        store: ShadowStore,
        sample_rate: float,
        max_in_flight: int,
        request_factory: Callable[[dict], Any],
        rng: Callable[[], float] = random.random,
        on_event: Optional[Callable[[str], None]] = None,
    ):
        self.large = large
        self.store = store
        self.sample_rate = sample_rate
        self.max_in_flight = max_in_flight
        self.request_factory = request_factory
        self.rng = rng
        self.on_event = on_event or (lambda event: None)
        self.in_flight = 0
        self._tasks: set[asyncio.Task] = set()

    def maybe_start(
        self, body: dict[str, Any], small_content: str, small_latency_s: Optional[float], route_score: Optional[float]
    ) -> bool:
        """Sample this small-tier answer for shadowing; returns whether a shadow call started."""
        if self.sample_rate <= 0 or self.rng() >= self.sample_rate:
            return False
        if self.in_flight >= self.max_in_flight:
            self.on_event("dropped")
            return False
        self.in_flight += 1
        self.on_event("started")
        task = asyncio.get_running_loop().create_task(self._run(body, small_content, small_latency_s, route_score))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run(self, body, small_content, small_latency_s, route_score) -> None:
        try:
            request = self.request_factory({k: v for k, v in body.items() if k != "stream_options"} | {"stream": False})
            start = time.perf_counter()
            response = await self.large.complete(request)
            latency = time.perf_counter() - start
            large_content = (response["choices"][0].get("message") or {}).get("content") or ""
            prompt = select_text(body["messages"])
            await asyncio.to_thread(
                self.store.record, prompt, small_content, large_content, small_latency_s, latency, route_score
            )
            self.on_event("recorded")
        except Exception as exc:  # a shadow call must never affect anything else
            logger.warning("shadow call failed: %r", exc)
            self.on_event("failed")
        finally:
            self.in_flight -= 1
