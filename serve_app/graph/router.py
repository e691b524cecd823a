"""The router in the graph: `ComplexityRouter` (its own CPU-only deployment, the default) and
`InProcessRouter` (`router.placement: in_process`: the same object inside each ingress replica)."""

import asyncio
import logging
import time
from typing import Any, Optional

from ray import serve

from serve_app.config import RouterConfig
from serve_app.graph.loopback_grpc import bind_replica_grpc_to_loopback
from serve_app.graph.metrics import RouterMetrics
from serve_app.routing.cpu_features import detect
from serve_app.routing.decision import RouteDecision
from serve_app.routing.encoder_registry import make_encoder
from serve_app.routing.router_core import RouterCore


class _RouterService:
    """Cache, batched scoring, metrics: what both placements share."""

    def __init__(self, config: dict[str, Any]):
        cfg = RouterConfig.model_validate(config)
        settings = cfg.encoder_settings()
        self._core = RouterCore(lambda: make_encoder(settings))
        encoder = self._core.encoder()  # load MiniLM at start-up, not on the first request
        cpu = detect()
        logging.getLogger("ray.serve").info(
            "router encoder: %s (%s), long prompts %s; CPU %s: %s (asked for %s)",
            encoder.runtime_id,
            encoder.kernels,
            encoder.long_prompts,
            cpu.model,
            cpu.kernels(),
            settings.backend,
        )
        self._metrics = RouterMetrics()
        self._cfg = cfg

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        policy = self._core.apply(user_config)
        self._score_batch.set_max_batch_size(policy.max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(policy.batch_wait_timeout_s)

    async def route(self, messages: list[dict[str, Any]]) -> RouteDecision:
        start = time.perf_counter()
        self._core.refresh()  # a learned artifact overwritten in place is reloaded
        text = self._core.text_of(messages)
        score = self._core.cached_score(text)
        cached = score is not None
        if not cached:
            score = await self._score_batch(text)
            if score is None:  # this text alone could not be scored: the ingress falls back to large
                raise ValueError("prompt could not be scored")
        decision = self._core.decide(score, cached=cached)
        self._metrics.record(decision, time.perf_counter() - start, self._core.cache)
        return decision

    @serve.batch(max_batch_size=1, batch_wait_timeout_s=0.0)  # RouterPolicy's defaults; set by reconfigure
    async def _score_batch(self, texts: list[str]) -> list[Optional[float]]:
        return await self._score(texts)

    async def _score(self, texts: list[str]) -> list[Optional[float]]:
        # A text that cannot be scored gets None; the rest of its batch is scored.
        return self._core.score_each(texts)


class ComplexityRouter(_RouterService):
    """Scores prompts in batches; policy comes from `user_config` (live through `reconfigure`)."""

    def __init__(self, config: dict[str, Any]):
        bind_replica_grpc_to_loopback()
        super().__init__(config)


class InProcessRouter(_RouterService):
    """The router inside the ingress replica: no handle hop. The encoder runs in a worker thread so
    the ingress's event loop keeps serving while a batch is scored; the policy is the config's."""

    def __init__(self, config: dict[str, Any]):
        super().__init__(config)
        self.reconfigure(self._cfg.policy.model_dump(mode="json"))
        self._lock = asyncio.Lock()

    async def _score(self, texts: list[str]) -> list[Optional[float]]:
        async with self._lock:  # one batch at a time: the encoder is single-threaded by design
            return await asyncio.to_thread(self._core.score_each, texts)
