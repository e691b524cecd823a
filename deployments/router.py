"""ComplexityRouter: the CPU-only router deployment (num_gpus=0)."""

import asyncio
from typing import Any, Optional

from ray import serve

from serve_app.routing.decision import RouteDecision
from serve_app.routing.encoder import make_encoder
from serve_app.routing.router_core import RouterCore


class ComplexityRouter:
    """Scores prompts in batches; policy comes from `user_config` (live through `reconfigure`)."""

    def __init__(self, encoder_path: Optional[str] = None, torch_threads: int = 1,
                 encoder_backend: str = "torch", onnx_model_path: Optional[str] = None):
        self._core = RouterCore(lambda: make_encoder(encoder_backend, encoder_path, torch_threads, onnx_model_path))
        self._core.encoder()  # load MiniLM at start-up, not on the first request

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        policy = self._core.apply(user_config)
        self._score_batch.set_max_batch_size(policy.max_batch_size)
        self._score_batch.set_batch_wait_timeout_s(policy.batch_wait_timeout_s)

    async def route(self, messages: list[dict[str, Any]]) -> RouteDecision:
        text = self._core.text_of(messages)
        score = self._core.cached_score(text)
        if score is not None:
            return self._core.decide(score, cached=True)
        return self._core.decide(await self._score_batch(text))

    async def score(self, texts: list[str]) -> list[float]:
        """Scores for raw texts (calibration and tools); bypasses the cache."""
        return list(await asyncio.gather(*(self._score_batch(t) for t in texts)))

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.002)
    async def _score_batch(self, texts: list[str]) -> list[float]:
        return self._core.score(texts)

    def stats(self) -> dict[str, Any]:
        cache = self._core.cache
        return {"cache_entries": len(cache), "cache_hits": cache.hits, "cache_misses": cache.misses}
