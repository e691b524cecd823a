"""Judges recorded shadow pairs in the background: sampled, at most `max_in_flight` pairs at once,
within a rolling hourly budget of calls; never awaited by a client request. The texts it judges
are the ones in memory (they need not be stored); only the verdict is written."""

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from serve_app.bounded_tasks import BoundedTasks
from serve_app.judging.config import JudgeConfig
from serve_app.judging.prompts import judge_bodies
from serve_app.judging.verdict import Verdict, verdict_from_texts

HOUR_S = 3600.0


@dataclass(frozen=True)
class JudgePair:
    """A recorded shadow pair, as the judge needs it."""

    pair_id: int
    question: str
    small: str
    large: str
    route_score: Optional[float] = None


class HourlyBudget:
    """At most `limit` units spent over any rolling `window_s` seconds."""

    def __init__(self, limit: int, window_s: float = HOUR_S, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window_s, self._clock = limit, window_s, clock
        self._spent: deque[tuple[float, int]] = deque()
        self._total = 0

    def used(self) -> int:
        horizon = self._clock() - self.window_s
        while self._spent and self._spent[0][0] <= horizon:
            self._total -= self._spent.popleft()[1]
        return self._total

    def try_spend(self, units: int) -> bool:
        if self.used() + units > self.limit:
            return False
        self._spent.append((self._clock(), units))
        self._total += units
        return True


def content_of(response: dict[str, Any]) -> Optional[str]:
    choices = response.get("choices") or [{}]
    return (choices[0].get("message") or {}).get("content")


CompleteFn = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
RecordFn = Callable[[int, Verdict], None]


class JudgeRunner:
    """`complete(body)` calls the judge model; `record(pair_id, verdict)` stores the verdict (run
    in a thread); `on_event(name)` counts pair outcomes, `on_verdict(pair, verdict)` and
    `on_usage(usage)` feed the metrics."""

    CALLS_PER_PAIR = 2

    def __init__(
        self,
        complete: CompleteFn,
        record: RecordFn,
        config: JudgeConfig,
        on_event: Callable[[str], None] = lambda e: None,
        on_verdict: Callable[[JudgePair, Verdict], None] = lambda p, v: None,
        on_usage: Callable[[dict], None] = lambda u: None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.complete, self.record, self.config = complete, record, config
        self.on_event, self.on_verdict, self.on_usage = on_event, on_verdict, on_usage
        self.rng = rng
        self.budget = HourlyBudget(config.calls_per_hour, clock=clock)
        self.tasks = BoundedTasks(config.max_in_flight, on_event, "judge call")

    @property
    def in_flight(self) -> int:
        return self.tasks.in_flight

    def maybe_judge(self, pair: JudgePair) -> bool:
        """Sample this pair for judging; returns whether judging started."""
        if self.config.sample_rate <= 0 or self.rng() >= self.config.sample_rate:
            return False
        if self.tasks.full:
            self.on_event("dropped")
            return False
        if not self.budget.try_spend(self.CALLS_PER_PAIR):
            self.on_event("over_budget")
            return False
        self.tasks.start(self._run(pair))
        return True

    async def _call(self, body: dict[str, Any]) -> Optional[str]:
        response = await self.complete(body)
        if response.get("usage"):
            self.on_usage(response["usage"])
        return content_of(response)

    async def _run(self, pair: JudgePair) -> None:
        cfg = self.config
        bodies = judge_bodies(cfg.mode, pair.question, pair.small, pair.large, cfg.max_chars, cfg.max_tokens)
        first, second = await asyncio.gather(*(self._call(b) for b in bodies))
        verdict = verdict_from_texts(cfg.mode, first, second)
        await asyncio.to_thread(self.record, pair.pair_id, verdict)
        self.on_verdict(pair, verdict)
        self.on_event("judged" if verdict.parsed else "unparsable")
