"""A real local Ray Serve instance for graph tests (one per test session, on a free port)."""

import socket
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def serve_port():
    import ray
    from ray import serve

    # 2 real cores, but the graph needs more logical CPUs to schedule (engines mostly wait).
    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield port
    serve.shutdown()
    ray.shutdown()


def cpu_default_args() -> dict:
    """The `args:` of the shipped CPU default serve config."""
    data = yaml.safe_load((ROOT / "deployments" / "cpu.yaml").read_text())
    return data["applications"][0]["args"]


def deploy(args: dict, name: str, route_prefix: str) -> None:
    from ray import serve

    from serve_app.config import AppConfig
    from serve_app.graph.builder import build_app

    serve.run(build_app(AppConfig.model_validate(args)), name=name, route_prefix=route_prefix)


def openai_client(base_url: str, timeout_s: float):
    """The official openai client pointed at a deployed app, no retries (errors must show)."""
    import openai

    return openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=timeout_s)


@contextmanager
def deployed(args: dict, name: str, route_prefix: str, port: int):
    """Deploy an app for the duration of a module; yields its base URL."""
    from ray import serve

    deploy(args, name, route_prefix)
    try:
        yield f"http://127.0.0.1:{port}{route_prefix.rstrip('/')}"
    finally:
        serve.delete(name)
