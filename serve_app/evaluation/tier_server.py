"""`tier-router serve-tier CONFIG small`: one tier of a serve config as a standalone vLLM
OpenAI-compatible server on loopback (no Ray), with the tier's own engine settings and
environment, so `eval-cascade` can measure the very engine the graph serves without starting the
whole graph. Replaces this process with vLLM's API server."""

import argparse
import os
import sys


def engine_flags(engine_kwargs: dict) -> list[str]:
    """vLLM CLI flags for engine kwargs: `max_model_len: 2048` -> `--max-model-len 2048`,
    `enforce_eager: true` -> `--enforce-eager`."""
    flags: list[str] = []
    for key, value in engine_kwargs.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is False or value is None:
            continue
        else:
            flags += [flag, str(value)]
    return flags


def command(config_path: str, tier: str, port: int, threads: int, app: str | None = None) -> tuple[list[str], dict]:
    """(argv, environment) of the server for `tier` of the config."""
    from serve_app.model_prep import ensure_converted
    from serve_app.serve_config import find_app

    cfg = getattr(find_app(config_path, app, "serve-tier").config.tiers, tier)
    if cfg.engine != "vllm":
        raise SystemExit(f"serve-tier: tier {tier!r} uses the {cfg.engine} engine, not vLLM")
    source = cfg.model_source or str(ensure_converted(cfg.gguf))
    argv = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        source,
        "--served-model-name",
        tier,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *engine_flags(cfg.engine_kwargs),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **cfg.env_vars}
    if threads:
        env.update({"OMP_NUM_THREADS": str(threads), "VLLM_CPU_OMP_THREADS_BIND": "nobind"})
    return argv, env


def add_parser(sub) -> None:
    p = sub.add_parser("serve-tier", help="serve one tier of a config as a standalone vLLM server (no Ray)")
    p.add_argument("config", help="serve config YAML")
    p.add_argument("tier", choices=["small", "large"])
    p.add_argument("--port", type=int, default=8100, help="port on 127.0.0.1")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the engine (0: vLLM's own binding)")
    p.add_argument("--app", help="application name in the config")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    argv, env = command(args.config, args.tier, args.port, args.threads, args.app)
    print(" ".join(argv), flush=True)
    os.execvpe(argv[0], argv, env)
    return 0  # not reached
