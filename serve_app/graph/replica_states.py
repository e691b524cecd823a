"""Readiness from the Serve controller: a background poll of the application's replica states.

It never calls a tier (so it never queues behind user traffic). Each snapshot also opens the
circuit breaker of a tier that has no running replica, so `auto` traffic fails over at once, and
closes it again when the tier has a running replica once more (a tier that is starting, or whose
replica was replaced, is down and then up; waiting for one probe request to close it refused every
concurrent request in the meantime).
"""

import asyncio
import logging
from typing import Callable, Optional

from serve_app.readiness import DeploymentState, Readiness

logger = logging.getLogger(__name__)


def fetch_states(app_name: str, deployments: dict[str, str]) -> dict[str, Optional[DeploymentState]]:
    """{short name: state} for `deployments` ({short name: deployment name}) of `app_name`.

    Reads the controller's plain details dict. `serve.status()` builds the same answer as pydantic
    models, and each deployment's `RequestRouterConfig` cloudpickles its router class by value on
    the way: 82 ms of this replica's CPU per call against 1.1 ms for the dict (one app of four
    deployments; five apps cost five times that), measured side by side. If Ray moves the private
    client, fall back to `serve.status()` and say so once.
    """
    details = _serve_details()
    if details is None:
        return _states_from_status(app_name, deployments)
    return states_from_details(details, app_name, deployments)


def states_from_details(
    details: dict, app_name: str, deployments: dict[str, str]
) -> dict[str, Optional[DeploymentState]]:
    """The same snapshot from the controller's details dict (`ServeInstanceDetails` as a dict)."""
    found = ((details.get("applications") or {}).get(app_name) or {}).get("deployments") or {}

    def state(dep: dict) -> DeploymentState:
        running = sum(1 for r in dep.get("replicas") or () if _text(r.get("state")) == "RUNNING")
        return DeploymentState(_text(dep.get("status")), running)

    return {short: state(found[name]) if name in found else None for short, name in deployments.items()}


_warned_fallback = False


def _serve_details() -> Optional[dict]:
    global _warned_fallback
    try:
        from ray.serve.context import _get_global_client

        client = _get_global_client()
        return client.get_serve_details() if client is not None else {}
    except (ImportError, AttributeError) as exc:
        if not _warned_fallback:
            _warned_fallback = True
            logger.warning("readiness falls back to serve.status() (%s): more CPU per poll", type(exc).__name__)
        return None


def _states_from_status(app_name: str, deployments: dict[str, str]) -> dict[str, Optional[DeploymentState]]:
    from ray import serve

    app = serve.status().applications.get(app_name)
    found = app.deployments if app is not None else {}

    def state(overview) -> DeploymentState:
        running = sum(n for s, n in overview.replica_states.items() if _text(s) == "RUNNING")
        return DeploymentState(_text(overview.status), running)

    return {short: state(found[name]) if name in found else None for short, name in deployments.items()}


def _text(value) -> str:
    """An enum member or its value, as the value's text."""
    return str(getattr(value, "value", value))


class ReplicaStatePoller:
    """Keeps `readiness` current every `interval_s`; calls `on_down(tier)` for each down tier and
    `on_up(tier)` for each tier that was down in the previous snapshot and is up in this one."""

    def __init__(
        self,
        readiness: Readiness,
        app_name: str,
        deployments: dict[str, str],
        interval_s: float,
        on_down: Callable[[str], None],
        on_up: Callable[[str], None],
    ):
        self.readiness = readiness
        self._app_name = app_name
        self._deployments = deployments
        self._interval_s = interval_s
        self._on_down = on_down
        self._on_up = on_up
        self._down: set[str] = set()
        self._task: Optional[asyncio.Task] = None

    def ensure_started(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def poll_once(self) -> None:
        try:
            states = await asyncio.to_thread(fetch_states, self._app_name, self._deployments)
        except Exception as exc:  # controller restarting: keep the last snapshot until it is stale
            self.readiness.failed(type(exc).__name__)
            logger.warning("replica state poll failed: %s", type(exc).__name__)
            return
        self.readiness.update(states)
        down = set(self.readiness.down_tiers())
        for tier in sorted(down):
            self._on_down(tier)
        for tier in sorted(self._down - down):
            if states.get(tier) is not None:
                logger.info("tier %s has a running replica again; its breaker is closed", tier)
                self._on_up(tier)
        self._down = down

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            await asyncio.sleep(self._interval_s)
