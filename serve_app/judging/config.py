"""Configuration of the shadow-pair judge (`ingress.shadow.judge`)."""

from typing import Literal, Optional

from pydantic import Field

from serve_app.strict_model import StrictModel


class JudgeEndpoint(StrictModel):
    """An OpenAI-compatible chat endpoint to judge with instead of the large tier."""

    url: str = Field(
        description="Base URL of the OpenAI-compatible API, e.g. https://host/v1 (`/chat/completions` is appended)."
    )
    model: str = Field(description="Model name sent to the endpoint.")
    api_key_env: Optional[str] = Field(
        None,
        description="Name of the environment variable (on the ingress replicas) that holds the "
        "API key, sent as a Bearer token. The key itself never goes in config.",
    )
    timeout_s: float = Field(60.0, gt=0, description="Longest wait for one judge call.")


class JudgeConfig(StrictModel):
    """LLM judge of shadow pairs: labels the small answer's quality relative to the large one.
    Runs in the background after a pair is recorded, never on a client's request path."""

    sample_rate: float = Field(0.0, ge=0.0, le=1.0, description="Share of recorded shadow pairs judged (0 = off).")
    mode: Literal["pairwise", "graded"] = Field(
        "pairwise",
        description="pairwise: which answer is better, asked in both orders (2 calls); "
        "graded: each answer rated 1-10 on its own (2 calls).",
    )
    max_in_flight: int = Field(
        1,
        ge=1,
        description="Most pairs being judged at once per ingress replica; extra samples are dropped and counted.",
    )
    calls_per_hour: int = Field(
        600,
        ge=0,
        description="Budget of judge calls per ingress replica over any rolling hour (a pair "
        "costs 2); pairs over budget are not judged and are counted.",
    )
    max_tokens: int = Field(32, ge=8, description="Completion tokens of one verdict (the JSON is a few tokens).")
    max_chars: int = Field(
        2000, ge=100, description="Question and each answer are cut to this many characters in the judge prompt."
    )
    endpoint: Optional[JudgeEndpoint] = Field(
        None,
        description="Judge with this OpenAI-compatible endpoint; null judges with the large tier "
        "(through the same handle as the shadow calls).",
    )
