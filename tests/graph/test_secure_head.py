"""The Ray head the README's run command starts (scripts/serve.sh -> scripts/ray_head.sh) has no
listener off loopback, not even once a Serve app's replicas run (each has an inter-deployment gRPC
server, which Ray 2.60 binds to [::]; serve_app/graph/loopback_grpc.py), and rejects a client
without the token."""

import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.graph.conftest import _free_port

ROOT = Path(__file__).resolve().parents[2]
CONNECT = "import ray; ray.init(address='{address}'); print('CONNECTED', ray.cluster_resources().get('CPU'))"
# Deploys a small app on the head (echo tiers, router in its own deployment: 4 replicas) and leaves
# it running (Serve's controller is detached); prints DEPLOYED once /health answers 200.
DEPLOY = """
import json, sys, time, httpx, ray
from ray import serve
from serve_app.config import AppConfig
from serve_app.graph.builder import build_app
address, port, args = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
ray.init(address=address, log_to_driver=False)
serve.start(http_options={"host": "127.0.0.1", "port": port})
serve.run(build_app(AppConfig.model_validate(args)), name="secure", route_prefix="/", blocking=False)
for _ in range(240):
    try:
        if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
            print("DEPLOYED")
            break
    except httpx.TransportError:
        pass
    time.sleep(1)
"""


@pytest.fixture(scope="module")
def head():
    tmp = Path(tempfile.mkdtemp(prefix="trh-", dir="/tmp"))
    ports = {name: _free_port() for name in ("RAY_PORT", "RAY_DASHBOARD_PORT", "RAY_CLIENT_PORT", "RAY_AGENT_PORT")}
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "RAY_TEMP_DIR": str(tmp),
        "RAY_NUM_CPUS": "4",  # logical: a Serve app's four replicas (one CPU each) fit
        "RAY_AUTH_TOKEN_PATH": str(tmp / "auth_token"),
        "RAY_BIN": str(Path(sys.executable).parent / "ray"),
        "RAY_AUTH_MODE": "disabled",
    }  # the script must override a caller's opt-out
    out = subprocess.run(
        ["bash", "scripts/ray_head.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-2000:]
    yield tmp, ports, env
    for proc in head_processes(tmp):
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass


def is_loopback(ip: str) -> bool:
    """127.0.0.0/8 or ::1, also written as an IPv4-mapped IPv6 address (::ffff:127.0.0.1)."""
    address = ipaddress.ip_address(ip)
    return (getattr(address, "ipv4_mapped", None) or address).is_loopback


def head_processes(tmp: Path) -> list[psutil.Process]:
    """Every process of the head started in `tmp` (its session lives there), with their children."""
    found = {}
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(tmp) in part for part in proc.info["cmdline"] or []):
            found[proc.pid] = proc
            for child in proc.children(recursive=True):
                found[child.pid] = child
    return list(found.values())


def listeners_of(tmp: Path) -> list[tuple[str, int, str]]:
    """(address, port, process name) of every TCP/UDP listener of the head's processes; printed with
    the matching `ss -ltnp` lines."""
    pids = {p.pid for p in head_processes(tmp)}
    listeners = [c for c in psutil.net_connections(kind="inet") if c.pid in pids and c.status == psutil.CONN_LISTEN]
    shown = sorted({(c.laddr.ip, c.laddr.port, _name(c.pid)) for c in listeners})
    print(f"\nRay listeners ({len(pids)} processes): {shown}")
    ss = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout.splitlines()
    print("\n".join(line for line in ss if any(f"pid={pid}," in line for pid in pids)))
    return shown


def _name(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())[:60]
    except psutil.Error:
        return "?"


def test_no_ray_listener_off_loopback(head):
    tmp, ports, _ = head
    time.sleep(3)  # agents bind their ports after `ray start` returns
    shown = listeners_of(tmp)
    assert any(port == ports["RAY_PORT"] for _, port, _ in shown), "the GCS listener was not found"
    assert all(is_loopback(ip) for ip, _, _ in shown), [s for s in shown if not is_loopback(s[0])]


def _secure_env(env: dict) -> dict:
    return {**env, "RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def test_no_listener_off_loopback_with_serve_replicas_running(head):
    tmp, ports, env = head
    tier = {"engine": "echo", "model_source": "echo"}
    args = {"router": {"policy": {"strategy": {"name": "length"}}}, "tiers": {"small": tier, "large": tier}}
    command = [sys.executable, "-c", DEPLOY, f"127.0.0.1:{ports['RAY_PORT']}", str(_free_port()), json.dumps(args)]
    out = subprocess.run(command, cwd=ROOT, env=_secure_env(env), capture_output=True, text=True, timeout=300)
    assert "DEPLOYED" in out.stdout, out.stderr[-3000:]
    replicas = [p for p in head_processes(tmp) if "ServeReplica" in " ".join(_cmdline(p))]
    assert len(replicas) >= 4, [p.name() for p in replicas]  # router, ingress and two tiers
    shown = listeners_of(tmp)
    replica_pids = {p.pid for p in replicas}
    grpc = [c for c in psutil.net_connections(kind="inet") if c.pid in replica_pids and c.status == psutil.CONN_LISTEN]
    assert len({c.pid for c in grpc}) >= 4, "a replica without its gRPC listener: the check would prove nothing"
    assert all(is_loopback(ip) for ip, _, _ in shown), [s for s in shown if not is_loopback(s[0])]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def _connect(env: dict, address: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, "-c", CONNECT.format(address=address)], env=env, capture_output=True, text=True, timeout=90
        )
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(exc.cmd, -1, "", "timed out")


def test_client_without_the_token_is_rejected(head):
    tmp, ports, env = head
    address = f"127.0.0.1:{ports['RAY_PORT']}"
    secure = _secure_env(env)
    no_token = {k: v for k, v in secure.items() if k != "RAY_AUTH_TOKEN_PATH"} | {
        "RAY_AUTH_MODE": "disabled",
        "HOME": str(tmp / "nobody"),
    }
    wrong = {**secure, "RAY_AUTH_TOKEN_PATH": "", "RAY_AUTH_TOKEN": "0" * 64}
    wrong.pop("RAY_AUTH_TOKEN_PATH")
    for name, client_env in (("no token", no_token), ("wrong token", wrong)):
        result = _connect(client_env, address)
        assert "CONNECTED" not in result.stdout, (name, result.stdout)
    right = _connect(secure, address)
    assert "CONNECTED" in right.stdout, right.stderr[-2000:]


def _get(url: str, **kw) -> httpx.Response:
    for _ in range(30):  # the dashboard may still be starting
        try:
            return httpx.get(url, timeout=10, **kw)
        except httpx.TransportError:
            time.sleep(1)
    return httpx.get(url, timeout=10, **kw)


def test_dashboard_needs_the_token(head):
    tmp, ports, _ = head
    url = f"http://127.0.0.1:{ports['RAY_DASHBOARD_PORT']}/api/version"
    assert _get(url).status_code in (401, 403)
    token = (tmp / "auth_token").read_text().strip()
    assert _get(url, headers={"authorization": f"Bearer {token}"}).status_code == 200


def test_loopback_check_knows_mapped_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("10.0.0.5")
    assert not is_loopback("::ffff:10.0.0.5")
