"""Settings of the operational features: the large-share alarm and shadow A/B (with its judge)."""

from pydantic import Field

from serve_app.judging.config import JudgeConfig
from serve_app.strict_model import StrictModel


class AlarmConfig(StrictModel):
    """Escalation alarm: rolling share of traffic that reaches the large tier (routed + escalated)."""

    large_share_ceiling: float = Field(0.3, ge=0.0, le=1.0, description="Alarm when the share exceeds this.")
    window_s: float = Field(300.0, gt=0, description="Rolling window of the share, in seconds.")
    min_requests: int = Field(20, ge=1, description="No alarm until the window holds this many requests.")


class ShadowConfig(StrictModel):
    """Shadow A/B: a sample of answers is also asked of the other tier in the background."""

    sample_rate: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of whole (non-streamed) answers shadowed (0 = off): a small "
        "answer is also asked of the large tier, a routed large answer of the small tier.",
    )
    max_in_flight: int = Field(
        2, ge=1, description="Most shadow calls at once per ingress replica; extra samples are dropped."
    )
    store_path: str = Field(
        "~/.cache/tier-router/shadow/pairs.sqlite", description="SQLite file of recorded pairs (per node)."
    )
    store_prompts: bool = Field(
        False,
        description="Store prompt and answer text (needed to retrain); otherwise only their SHA-256 (the "
        "judge then sees the text in memory only).",
    )
    max_rows: int = Field(100_000, ge=1, description="Rotation: the store keeps this many newest pairs.")
    judge: JudgeConfig = Field(default_factory=JudgeConfig, description="LLM judge of recorded pairs (labels).")
