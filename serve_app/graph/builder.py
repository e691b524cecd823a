"""build_app: the whole graph in one place. Serve validates the config's `args:` as `AppConfig`.

ingress (FastAPI, OpenAI API) --handle--> router (CPU, MiniLM)
                              --handle--> Tier:small (LLMServer/vLLM)
                              --handle--> Tier:large (LLMServer/vLLM)
"""

from typing import Any

from serve_app.config import AppConfig, IngressConfig, RouterConfig

ROUTER_NAME = "ComplexityRouter"
INGRESS_NAME = "TierRouterIngress"


def cpu_actor_options(num_cpus: float, resources: dict[str, float], **extra: Any) -> dict[str, Any]:
    """Ray actor options of a CPU-only replica (custom resources pin it to a node group)."""
    actor: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": 0, **extra}
    if resources:
        actor["resources"] = dict(resources)
    return actor


def router_options(cfg: RouterConfig) -> dict[str, Any]:
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(cfg.torch_threads)}
    return {
        "name": ROUTER_NAME,
        "ray_actor_options": cpu_actor_options(cfg.num_cpus, cfg.resources, runtime_env={"env_vars": env}),
        "autoscaling_config": cfg.autoscaling.to_serve(),
        "user_config": cfg.policy.model_dump(mode="json"),
        "max_ongoing_requests": 512,
    }


def ingress_options(cfg: IngressConfig) -> dict[str, Any]:
    return {
        "name": INGRESS_NAME,
        "ray_actor_options": cpu_actor_options(cfg.num_cpus, cfg.resources),
        "autoscaling_config": cfg.autoscaling.to_serve(),
        "max_ongoing_requests": cfg.max_ongoing_requests,
        "user_config": cfg.cascade.model_dump(mode="json"),
    }


def build_app(args: AppConfig):
    """Bind router, both tiers and the ingress into one Serve application."""
    cfg = args if isinstance(args, AppConfig) else AppConfig.model_validate(args)
    from ray import serve

    from serve_app.graph.ingress import TierRouterIngress, app
    from serve_app.graph.router import ComplexityRouter
    from serve_app.graph.tiers import build_tier

    router = (
        serve.deployment(ComplexityRouter)
        .options(**router_options(cfg.router))
        .bind(cfg.router.encoder_path, cfg.router.torch_threads, cfg.router.encoder_backend, cfg.router.onnx_model_path)
    )
    small = build_tier("small", cfg.tiers.small)
    large = build_tier("large", cfg.tiers.large)
    ingress_cls = serve.ingress(app)(TierRouterIngress)
    return (
        serve.deployment(ingress_cls)
        .options(**ingress_options(cfg.ingress))
        .bind(router, small, large, cfg.ingress.model_dump(mode="json"))
    )
