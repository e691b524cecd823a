"""build_app: the whole graph in one place. Serve validates the config's `args:` as `AppConfig`.

ingress (FastAPI, OpenAI API) --handle--> router (CPU, MiniLM)
                              --handle--> Tier:small (LLMServer/vLLM)
                              --handle--> Tier:large (LLMServer/vLLM)
"""

from typing import Any

from serve_app.config import AppConfig, IngressConfig, RouterConfig

ROUTER_NAME = "ComplexityRouter"
INGRESS_NAME = "TierRouterIngress"


def deployment_names(router: RouterConfig) -> dict[str, str]:
    """{short name: Serve deployment name} of the deployments readiness looks at (the router only
    when it is a deployment of its own)."""
    from serve_app.graph.tiers import tier_deployment_name

    names = {"small": tier_deployment_name("small"), "large": tier_deployment_name("large")}
    return {"router": ROUTER_NAME, **names} if router.placement == "deployment" else names


def router_options(cfg: RouterConfig) -> dict[str, Any]:
    env = {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(cfg.torch_threads)}
    options = cfg.serve_options(num_gpus=0, runtime_env={"env_vars": env})
    return {"name": ROUTER_NAME, **options, "user_config": cfg.policy.model_dump(mode="json")}


def ingress_options(cfg: IngressConfig) -> dict[str, Any]:
    options = cfg.serve_options(num_gpus=0)
    return {"name": INGRESS_NAME, **options, "user_config": cfg.cascade.model_dump(mode="json")}


def build_app(args: AppConfig):
    """Bind router, both tiers and the ingress into one Serve application."""
    cfg = args if isinstance(args, AppConfig) else AppConfig.model_validate(args)
    from ray import serve

    from serve_app.graph.ingress import TierRouterIngress, app
    from serve_app.graph.router import ComplexityRouter
    from serve_app.graph.tiers import build_tier

    router_args = cfg.router.model_dump(mode="json")
    router = None
    if cfg.router.placement == "deployment":
        router = serve.deployment(ComplexityRouter).options(**router_options(cfg.router)).bind(router_args)
    small = build_tier("small", cfg.tiers.small)
    large = build_tier("large", cfg.tiers.large)
    ingress_cls = serve.ingress(app)(TierRouterIngress)
    return (
        serve.deployment(ingress_cls)
        .options(**ingress_options(cfg.ingress))
        .bind(router, small, large, cfg.ingress.model_dump(mode="json"), deployment_names(cfg.router), router_args)
    )
