"""Tier deployments: Ray Serve LLM's `LLMServer`, built from an `LLMConfig` per tier."""

from typing import Any

from serve_app.config import TierConfig

TIER_PREFIX = "Tier:"


def tier_deployment_name(name: str) -> str:
    return f"{TIER_PREFIX}{name}"


def resolve_model_source(cfg: TierConfig) -> str:
    """Where the weights are: the configured source, or the converted packaged GGUF."""
    if cfg.model_source is not None:
        return cfg.model_source
    from serve_app.model_prep import ensure_converted

    return str(ensure_converted(cfg.gguf))


def llm_config_dict(name: str, cfg: TierConfig, model_source: str) -> dict[str, Any]:
    """The `LLMConfig` fields for one tier (plain data, so tests can check it without Ray LLM)."""
    return {
        "model_loading_config": {"model_id": name, "model_source": model_source},
        "engine_kwargs": dict(cfg.engine_kwargs),
        "accelerator_type": cfg.accelerator_type,
        "placement_group_config": cfg.placement_group_config or _default_placement(cfg),
        "runtime_env": {"env_vars": {"HF_HUB_OFFLINE": "1", **cfg.env_vars}},
        "deployment_config": cfg.serve_options(),
        "log_engine_metrics": cfg.engine == "vllm",
    }


def _default_placement(cfg: TierConfig) -> Any:
    """The echo engine has no workers: one bundle for the replica itself, never a GPU.
    vLLM tiers keep Ray's default (one GPU per tensor-parallel rank)."""
    return {"bundles": [{"CPU": 0}]} if cfg.engine == "echo" else None


def build_tier(name: str, cfg: TierConfig):
    """The bound `LLMServer` application for tier `name` (`small` or `large`)."""
    from ray.serve.llm import LLMConfig, build_llm_deployment

    from serve_app.graph.tier_server import TierServer

    source = "echo" if cfg.engine == "echo" and cfg.model_source is None else resolve_model_source(cfg)
    llm_config = LLMConfig(**llm_config_dict(name, cfg, source))
    bind_kwargs = None
    if cfg.engine == "echo":
        from serve_app.graph.echo import EchoEngine

        bind_kwargs = {"engine_cls": EchoEngine}
    return build_llm_deployment(
        llm_config,
        bind_kwargs=bind_kwargs,
        deployment_cls=TierServer,
        override_serve_options={"name": tier_deployment_name(name)},
    )
