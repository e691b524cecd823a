"""What one readiness poll costs the ingress: the shipped read of the controller's details dict
(`replica_states.fetch_states`) beside the public `serve.status()` it replaced, side by side on one
tier-router application (echo tiers), plus the ingress replica's CPU while idle (the poll is most of
what an idle ingress does).

    .venv/bin/python -m bench.readiness_poll            # about a minute, updates BENCHMARKS.md
    .venv/bin/python -m bench.readiness_poll --smoke
"""

import sys
import time
from typing import Callable

import psutil

from bench import graph_overhead, pyspy_profile, ray_session
from bench.report import markdown_table
from bench.serving_report import bench_parser, finish

APP = "tier-router"


def deploy() -> int:
    from ray import serve

    from serve_app.config import AppConfig
    from serve_app.graph.builder import build_app

    port = ray_session.start()
    args = graph_overhead.tier_router_args("auto", "route_only")
    serve.run(build_app(AppConfig.model_validate(args)), name=APP, route_prefix="/tr")
    return port


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def per_call(name: str, call: Callable[[], object], calls: int, controller: psutil.Process) -> dict:
    call()  # warm
    own, ctl, wall = time.process_time(), _cpu_s(controller), time.perf_counter()
    for _ in range(calls):
        call()
    return {
        "read": name,
        "calls": calls,
        "caller_cpu_ms": (time.process_time() - own) / calls * 1e3,
        "controller_cpu_ms": (_cpu_s(controller) - ctl) / calls * 1e3,
        "wall_ms": (time.perf_counter() - wall) / calls * 1e3,
    }


def measure(calls: int, idle_s: float) -> dict:
    from ray import serve

    from serve_app.config import RouterConfig
    from serve_app.graph.builder import deployment_names
    from serve_app.graph.replica_states import fetch_states

    names = deployment_names(RouterConfig())
    controller = psutil.Process(pyspy_profile.replica_pid("ServeController"))
    rows = []
    for _ in range(2):  # two rounds, alternating, so drift hits both reads alike
        rows.append(per_call("serve.status()", serve.status, calls, controller))
        rows.append(per_call("details dict (shipped)", lambda: fetch_states(APP, names), calls, controller))
    ingress = psutil.Process(pyspy_profile.replica_pid(f"ServeReplica:{APP}:TierRouterIngress"))
    before = _cpu_s(ingress)
    time.sleep(idle_s)
    idle = (_cpu_s(ingress) - before) / idle_s
    return {"rows": rows, "idle_ingress_core_share": idle, "idle_s": idle_s}


def markdown_from_result(data: dict) -> str:
    """The section text for a stored (or fresh) result."""
    poll_s = data["readiness_poll_s"]
    merged: dict[str, list[dict]] = {}
    for row in data["rows"]:
        merged.setdefault(row["read"], []).append(row)
    table = markdown_table(
        [
            "read",
            "calls",
            "caller CPU ms/call (what the polling ingress pays)",
            "controller CPU ms/call",
            "wall ms/call",
        ],
        [
            [
                name,
                sum(r["calls"] for r in rs),
                round(sum(r["caller_cpu_ms"] for r in rs) / len(rs), 2),
                round(sum(r["controller_cpu_ms"] for r in rs) / len(rs), 2),
                round(sum(r["wall_ms"] for r in rs) / len(rs), 2),
            ]
            for name, rs in merged.items()
        ],
    )
    return (
        f"One tier-router application (router, two echo tiers, ingress) in a private Ray; each read made "
        f"from the benchmark's driver, in two alternating rounds. The ingress polls once every "
        f"`ingress.readiness_poll_s` ({poll_s:g} s).\n\n{table}\n\n"
        f"Ingress replica CPU while idle for {data['idle_s']:g} s (shipped read): "
        f"{100 * data['idle_ingress_core_share']:.1f}% of one core.\n"
    )


def main(argv=None) -> int:
    from serve_app.config import IngressConfig

    p = bench_parser(__doc__)
    p.add_argument("--calls", type=int, default=40, help="calls per read and round")
    p.add_argument("--idle-seconds", type=float, default=20.0, help="idle window for the ingress's CPU")
    args = p.parse_args(argv)
    if args.smoke:
        args.calls, args.idle_seconds = 3, 2.0
    start = time.perf_counter()
    data = ray_session.run(deploy, lambda port: measure(args.calls, args.idle_seconds))
    data["elapsed_s"] = time.perf_counter() - start
    data["readiness_poll_s"] = IngressConfig().readiness_poll_s
    title = "Readiness poll: cost per call"
    return finish(args, "readiness_poll", title, markdown_from_result(data), data)


if __name__ == "__main__":
    sys.exit(main())
