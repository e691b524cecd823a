"""The router's settings: its live policy (the router deployment's `user_config`)."""

from pydantic import Field

from serve_app.routing.strategies import ExemplarStrategyConfig, StrategyConfig
from serve_app.routing.text import ScoreText
from serve_app.strict_model import StrictModel

# Scores strictly above the threshold go to the large tier. The shipped default for the exemplar
# strategy; `tier-router calibrate --share` picks one for your traffic (README, BENCHMARKS.md).
DEFAULT_THRESHOLD = 4.0


class RouterPolicy(StrictModel):
    """The router's live knobs: sent as the router deployment's `user_config`, so a
    `serve deploy` with new values retunes running replicas without a restart."""

    strategy: StrategyConfig = Field(
        default_factory=ExemplarStrategyConfig,
        discriminator="name",
        description="Complexity strategy and its options; `name` picks it from the registry.",
    )
    threshold: float = Field(
        DEFAULT_THRESHOLD, ge=0.0, le=10.0, description="Scores strictly above this go to the large tier (0-10 scale)."
    )
    score_text: ScoreText = Field(
        ScoreText.LAST_USER,
        description="Text that is scored: last_user (default), all_user, or conversation. Text parts only.",
    )
    cache_size: int = Field(10_000, ge=0, description="Scores kept in the LRU cache; 0 disables it.")
    max_batch_size: int = Field(
        1,
        ge=1,
        description="Most prompts scored in one encoder batch. 1 by measurement (bench/router_batching.py): "
        "one encoder thread scores no faster in batches, and a batch pads every prompt to its longest.",
    )
    batch_wait_timeout_s: float = Field(
        0.0, ge=0.0, description="Longest wait for a batch to fill before scoring it (0: score what is queued)."
    )
