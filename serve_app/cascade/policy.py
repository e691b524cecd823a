"""The cascade's settings: the confidence-escalation policy (the ingress deployment's `user_config`)."""

from typing import Literal, Optional

from pydantic import Field, model_validator

from serve_app.strict_model import StrictModel

DEFAULT_SELF_ASSESSMENT_PROMPT = (
    'Answer the user\'s last message. Reply only with a JSON object with two keys: "content", '
    'your complete answer, and "confidence", a number from 0 to 1 saying how sure you are that '
    "the answer is correct and complete. Use a low confidence when the request is hard or you are "
    "unsure."
)

# Tokens of the small answer judged before a streamed answer commits (prefix streaming): the smallest k
# whose escalation share at the shipped threshold is within a point of the whole answer's, on SmolLM2's
# MMLU answers (`python -m bench.prefix_curve`); its first-token time: `python -m bench.stream_cascade`.
PREFIX_TOKENS = 8


CascadeMethod = Literal[
    "logprobs",
    "mean_prob",
    "min_prob",
    "mean_margin",
    "first_prob",
    "first_margin",
    "lead3_prob",
    "calibrated",
    "self_assessment",
]


class CascadePolicy(StrictModel):
    """Confidence escalation (the ingress's live knobs, sent as its `user_config`): a small-tier
    answer whose confidence is below `threshold` is replaced by the large tier's answer."""

    mode: Literal["route_and_cascade", "route_only", "cascade_only"] = Field(
        "route_and_cascade",
        description="route_and_cascade: route, then escalate doubtful small answers; route_only: no "
        "escalation; cascade_only: skip the router, every auto request starts on small.",
    )
    method: CascadeMethod = Field(
        "logprobs",
        description="logprobs: w * exp(mean token logprob) + (1 - w) * mean top-1/top-2 margin; mean_prob, "
        "min_prob, mean_margin, first_prob, first_margin, lead3_prob: one token-probability signal of the "
        "answer (serve_app/cascade/signals.py); calibrated: P(right) from `calibration_file`'s logistic "
        "regression over those signals (all: prompt unchanged); self_assessment: the small model returns "
        "{content, confidence} via structured output.",
    )
    calibration_file: str = Field(
        "smollm2-135m-mmlu.json",
        min_length=1,
        description="calibrated method: fitted weights (JSON from `tier-router eval-cascade --fit-out`), a path "
        "as the ingress replica sees it or a file shipped in serve_app/cascade/calibrations/.",
    )
    threshold: float = Field(
        0.7,
        ge=0.0,
        description="Escalate when confidence < threshold (0 never escalates a scored "
        "answer; above 1 always escalates).",
    )
    logprob_weight: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="logprobs method: weight of exp(mean token logprob); the rest is the mean top-1/top-2 margin.",
    )
    top_logprobs: int = Field(2, ge=2, le=20, description="logprobs method: alternatives requested per token.")
    self_assessment_prompt: str = Field(
        DEFAULT_SELF_ASSESSMENT_PROMPT,
        min_length=1,
        description="self_assessment method: system instruction added to the small tier's request.",
    )
    streaming: Literal["prefix", "buffered"] = Field(
        "prefix",
        description="Streamed requests with a logprob method: prefix = stream the small answer into a holding "
        "buffer, judge its first prefix_tokens tokens, then relay it live or abort it for the large "
        "tier's stream; buffered = judge the whole small answer before the first byte (self_assessment "
        "always buffers).",
    )
    prefix_tokens: int = Field(
        PREFIX_TOKENS,
        ge=1,
        le=4096,
        description="prefix streaming: tokens judged before commit or abort (answers that end sooner are "
        "judged whole).",
    )
    prefix_window_s: Optional[float] = Field(
        None,
        gt=0,
        description="prefix streaming: also decide once this many seconds passed since the small stream's "
        "first chunk (checked as chunks arrive, with at least one token held); null = tokens only.",
    )
    late_check: bool = Field(
        True,
        description="prefix streaming: judge the whole committed answer too; it only annotates (the final "
        "usage chunk's tier_router field and a trailing SSE comment), never changes the answer.",
    )
    on_small_error: Literal["fallback", "fail"] = Field(
        "fallback", description="Small tier errors or times out: fallback to the large tier, or fail (503)."
    )
    on_large_error: Literal["return_small", "fail"] = Field(
        "return_small",
        description="Large tier fails during an escalation: return the small answer marked unescalated, or fail.",
    )

    @model_validator(mode="after")
    def _calibration_loads(self) -> "CascadePolicy":
        if self.method == "calibrated":  # a missing or malformed file fails here, not per request
            from serve_app.cascade.calibrated import load_calibration

            try:
                load_calibration(self.calibration_file)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"calibration_file {self.calibration_file!r}: {exc}") from None
        return self
