"""Settings of the operational features: the large-share alarm and shadow A/B."""

from pydantic import Field

from serve_app.strict_model import StrictModel


class AlarmConfig(StrictModel):
    """Escalation alarm: rolling share of traffic that reaches the large tier (routed + escalated)."""

    large_share_ceiling: float = Field(0.3, ge=0.0, le=1.0, description="Alarm when the share exceeds this.")
    window_s: float = Field(300.0, gt=0, description="Rolling window of the share, in seconds.")
    min_requests: int = Field(20, ge=1, description="No alarm until the window holds this many requests.")


class ShadowConfig(StrictModel):
    """Shadow A/B: a sample of small-tier answers is also sent to the large tier in the background."""

    sample_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of small-tier answers shadowed (0 = off).")
    max_in_flight: int = Field(
        2, ge=1, description="Most shadow calls at once per ingress replica; extra samples are dropped."
    )
    store_path: str = Field(
        "~/.cache/tier-router/shadow/pairs.sqlite", description="SQLite file of recorded pairs (per node)."
    )
    store_prompts: bool = Field(False, description="Store prompt text (needed to retrain); otherwise only its SHA-256.")
    max_rows: int = Field(100_000, ge=1, description="Rotation: the store keeps this many newest pairs.")
