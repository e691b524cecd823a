"""Where the graph's time goes: CPU time per request of every Ray process of this run (proxy,
each replica) while one path is under load, and a py-spy sample of tier-router's ingress."""

import re

import psutil

from bench import pyspy_profile
from bench.loadgen import run_load
from bench.report import markdown_table

TITLE = re.compile(r"ray::(ServeReplica:[^:\s]+:[^.\s]+|ProxyActor|ServeController)")


def _ray_processes() -> dict[int, str]:
    out = {}
    for proc in psutil.Process().children(recursive=True):
        try:
            match = TITLE.search(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
        if match:
            out[proc.pid] = match.group(1).replace("ServeReplica:", "")
    return out


def _cpu_seconds(pids: dict[int, str]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid, name in pids.items():
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        totals[name] = totals.get(name, 0.0) + t.user + t.system
    return totals


async def cpu_per_request(port: int, paths: dict, make_body, level: int, seconds: float) -> list[dict]:
    """For each path: CPU ms per request spent in each process while that path alone is loaded."""
    pids = _ray_processes()
    rows = []
    for path, prefix in paths.items():
        url = f"http://127.0.0.1:{port}{prefix}/v1/chat/completions"
        before = _cpu_seconds(pids)
        res = await run_load(url, make_body(path, "cpu"), level, 100_000, seconds)
        after = _cpu_seconds(pids)
        n = max(res.summary()["ok"], 1)
        per = {k: 1000 * (after[k] - before.get(k, 0.0)) / n for k in after if after[k] - before.get(k, 0.0) > 0}
        rows.append({"path": path, "requests": n, "cpu_ms": per, "total_cpu_ms": sum(per.values())})
    return rows


def cpu_table(rows: list[dict], top: int = 5) -> str:
    return markdown_table(
        ["path", "requests", "CPU ms/request (all Ray processes)", "largest shares (ms/request)"],
        [
            [
                r["path"],
                r["requests"],
                round(r["total_cpu_ms"], 2),
                ", ".join(f"{k} {v:.2f}" for k, v in sorted(r["cpu_ms"].items(), key=lambda kv: -kv[1])[:top]),
            ]
            for r in rows
        ],
    )


async def pyspy_ingress(port: int, prefix: str, make_body, level: int, seconds: int, fragment: str) -> str:
    """py-spy samples of the replica whose title contains `fragment` while `prefix` is loaded."""
    pid = pyspy_profile.replica_pid(fragment)
    started = pyspy_profile.start(pid, seconds) if pid else None
    if started is None:
        return f"(py-spy not available or no replica matching {fragment})"
    proc, out = started
    await run_load(f"http://127.0.0.1:{port}{prefix}/v1/chat/completions", make_body, level, 100_000, seconds)
    proc.wait(timeout=seconds + 60)
    return pyspy_profile.summarise(out) if out.exists() else "(py-spy wrote nothing; needs ptrace permission)"
