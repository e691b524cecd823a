"""ComplexityRouter: the CPU-only router deployment (num_gpus=0)."""

import time
from typing import Any, Optional

from ray import serve

from serve_app.graph.metrics import RouterMetrics
from serve_app.routing.decision import RouteDecision
from serve_app.routing.encoder import make_encoder
from serve_app.routing.router_core import RouterCore


class ComplexityRouter:
    """Scores prompts in batches; policy comes from `user_config` (live through `reconfigure`)."""

    def __init__(
        self,
        encoder_path: Optional[str] = None,
        torch_threads: int = 1,
        encoder_backend: str = "torch",
        onnx_model_path: Optional[str] = None,
    ):
        self._core = RouterCore(lambda: make_encoder(encoder_backend, encoder_path, torch_threads, onnx_model_path))
        self._core.encoder()  # load MiniLM at start-up, not on the first request
        self._metrics = RouterMetrics()

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        policy = self._core.apply(user_config)
        self._score_batch.set_max_batch_size(policy.max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(policy.batch_wait_timeout_s)

    async def route(self, messages: list[dict[str, Any]]) -> RouteDecision:
        start = time.perf_counter()
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

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _score_batch(self, texts: list[str]) -> list[Optional[float]]:
        return self._core.score_each(texts)

    def stats(self) -> dict[str, Any]:
        cache = self._core.cache
        return {"cache_entries": len(cache), "cache_hits": cache.hits, "cache_misses": cache.misses}
