"""A private local Ray + Serve for one benchmark, and a clean exit: Serve and Ray shut down, and
any vLLM engine process this run started (found among this process's descendants) is killed."""

import os
import signal
import socket
from typing import Callable, TypeVar

import psutil

T = TypeVar("T")
R = TypeVar("R")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start() -> int:
    """Ray with 8 logical CPUs (the graph needs more than the 2 real cores) and Serve on a free
    loopback port; returns the port."""
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    signal.signal(signal.SIGTERM, _interrupt)  # a `kill` still runs the caller's `finally: stop()`
    import ray
    from ray import serve

    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    return port


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _engine_processes() -> list[psutil.Process]:
    out = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if " ".join(proc.cmdline()).startswith("VLLM::") or proc.name().startswith("VLLM::"):
                out.append(proc)
        except psutil.Error:
            continue
    return out


def stop() -> None:
    """Shut Serve and Ray down, then kill this run's leftover `VLLM::` engine processes by id."""
    engines = _engine_processes()
    try:
        import ray
        from ray import serve

        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()
    finally:
        for proc in engines:
            try:
                proc.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass


def run(deploy: Callable[[], T], measure: Callable[[T], R]) -> R:
    """`measure(deploy())`, where `deploy` starts this private Ray (`start`) and deploys; Ray and this
    run's engines are stopped afterwards whatever happened (every Ray benchmark's run)."""
    try:
        return measure(deploy())
    finally:
        stop()
