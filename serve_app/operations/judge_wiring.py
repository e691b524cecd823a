"""Connects the judge to the shadow store and the metrics: by default the large tier judges,
through the same TierClient the shadow calls use; or an OpenAI-compatible endpoint from config."""

from typing import Any, Callable, Optional

from serve_app.judging.config import JudgeConfig
from serve_app.judging.runner import JudgePair, JudgeRunner
from serve_app.operations.shadow import ShadowPair, ShadowStore


def build_judge(
    cfg: JudgeConfig, store: ShadowStore, large: Any, make_request: Callable[[dict], Any], metrics: Any
) -> Optional[JudgeRunner]:
    """The replica's judge, or None when judging is off (sample_rate 0)."""
    if cfg.sample_rate <= 0:
        return None
    if cfg.endpoint is None:

        async def complete(body: dict) -> dict:
            return await large.complete(make_request(body))

        name = "large"
    else:
        from serve_app.judging.endpoint import EndpointJudge

        complete, name = EndpointJudge(cfg.endpoint).complete, cfg.endpoint.model

    def on_verdict(pair: JudgePair, verdict: Any) -> None:
        if verdict.parsed:
            metrics.record_verdict(verdict.outcome, pair.route_score)

    return JudgeRunner(
        complete,
        lambda pair_id, verdict: store.record_verdict(pair_id, verdict, name),
        cfg,
        on_event=lambda event: metrics.judge_pairs.inc(tags={"outcome": event}),
        on_verdict=on_verdict,
        on_usage=metrics.record_judge_usage,
    )


def judge_recorded_pairs(judge: Optional[JudgeRunner]) -> Optional[Callable[[int, ShadowPair], None]]:
    """The shadow runner's `on_pair`: offers each recorded pair (still in memory) to the judge."""
    if judge is None:
        return None

    def on_pair(pair_id: int, pair: ShadowPair) -> None:
        judge.maybe_judge(JudgePair(pair_id, pair.prompt, pair.small_answer, pair.large_answer, pair.route_score))

    return on_pair
