"""The router's state, free of Ray: policy, strategy, cache. The deployment adds batching."""

import logging
import os
import time
from typing import Any, Callable, Optional, Sequence

from serve_app.routing.cache import ScoreCache
from serve_app.routing.decision import RouteDecision, decide
from serve_app.routing.policy import RouterPolicy
from serve_app.routing.strategies import Encoder, Scorer, build_scorer, needs_encoder
from serve_app.routing.text import select_text

logger = logging.getLogger(__name__)
ARTIFACT_CHECK_S = 5.0


def artifact_stamp(strategy: Any) -> Optional[tuple[int, int, int]]:
    """(mtime, size, inode) of a strategy's artifact file; None without one (or if it is missing)."""
    path = getattr(strategy, "artifact", None)
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class RouterCore:
    """Applies a `RouterPolicy` and turns messages into `RouteDecision`s.

    `encoder_factory` is called at most once, the first time a strategy needs embeddings.
    A learned strategy's artifact file is watched: overwritten in place, it is reloaded (`refresh`).
    """

    def __init__(self, encoder_factory: Callable[[], Encoder], clock: Callable[[], float] = time.monotonic):
        self._encoder_factory = encoder_factory
        self._clock = clock
        self._stamp: Optional[tuple[int, int, int]] = None
        self._checked = 0.0
        self._encoder: Optional[Encoder] = None
        self._scorer: Optional[Scorer] = None
        self.policy: Optional[RouterPolicy] = None
        self.cache = ScoreCache(0)

    def apply(self, policy: RouterPolicy | dict[str, Any]) -> RouterPolicy:
        """Install a new policy; rebuilds the strategy (and clears the cache) only if it changed."""
        policy = policy if isinstance(policy, RouterPolicy) else RouterPolicy.model_validate(policy)
        stamp = artifact_stamp(policy.strategy)
        if self.policy is None or policy.strategy != self.policy.strategy or stamp != self._stamp:
            self._build(policy.strategy, stamp)
        self.cache.resize(policy.cache_size)
        self.policy = policy
        return policy

    def _build(self, strategy: Any, stamp: Optional[tuple[int, int, int]]) -> None:
        encoder = self.encoder() if needs_encoder(strategy) else None
        self._scorer = build_scorer(strategy, encoder)
        self._stamp = stamp
        self._checked = self._clock()
        self.cache.clear()
        logger.info("router strategy set to %s", strategy.name)

    def refresh(self) -> bool:
        """Reload the strategy if its artifact file changed (checked at most every few seconds);
        a file that does not load keeps the current scorer. Returns whether it reloaded."""
        if self.policy is None or self._clock() - self._checked < ARTIFACT_CHECK_S:
            return False
        self._checked = self._clock()
        stamp = artifact_stamp(self.policy.strategy)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            self._build(self.policy.strategy, stamp)
        except Exception as exc:  # half-written or bad file: keep serving with the old one
            logger.warning(
                "router artifact %s changed but did not load (%r); keeping the loaded one",
                getattr(self.policy.strategy, "artifact", ""),
                exc,
            )
            return False
        return True

    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._encoder_factory()
        return self._encoder

    def text_of(self, messages: Sequence[dict[str, Any]]) -> str:
        return select_text(messages, self.policy.score_text)

    def cached_score(self, text: str) -> Optional[float]:
        return self.cache.get(text)

    def score(self, texts: Sequence[str]) -> list[float]:
        """Score texts with the current strategy and remember the scores."""
        scores = self._scorer.score(texts)
        for text, score in zip(texts, scores, strict=True):
            self.cache.put(text, score)
        return scores

    def score_each(self, texts: Sequence[str]) -> list[Optional[float]]:
        """Like `score`, but a text that cannot be scored gets None instead of failing its whole
        batch (one bad prompt must not reroute the other requests batched with it)."""
        try:
            return list(self.score(texts))
        except Exception:
            if len(texts) == 1:
                logger.warning("router could not score a prompt; it falls back to the large tier")
                return [None]
        return [self.score_each([text])[0] for text in texts]

    def decide(self, score: float, cached: bool = False) -> RouteDecision:
        return decide(score, self.policy.threshold, self.policy.strategy.name, cached)

    def route(self, messages: Sequence[dict[str, Any]]) -> RouteDecision:
        """Unbatched path (CLI, tests): cache, else score now."""
        self.refresh()
        text = self.text_of(messages)
        score = self.cached_score(text)
        if score is not None:
            return self.decide(score, cached=True)
        return self.decide(self.score([text])[0])
