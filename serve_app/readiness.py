"""Readiness from Serve's own view of the replicas (pure: the snapshot is fetched elsewhere).

A busy tier is not a down tier: readiness looks at how many replicas the Serve controller reports
RUNNING per deployment, never at a call queued behind user traffic.
"""

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

STALE_AFTER_S = 30.0  # no snapshot this long (controller unreachable): not ready


@dataclass(frozen=True)
class DeploymentState:
    """One deployment as the Serve controller reports it."""

    status: str  # HEALTHY, UNHEALTHY, UPDATING, UPSCALING, DOWNSCALING, ...
    running: int  # replicas in state RUNNING


@dataclass
class Readiness:
    """The latest snapshot and what it means. `parts` maps a short name (router, small, large) to
    its deployment's state (None: the deployment is not there)."""

    tiers: tuple[str, ...] = ("small", "large")
    clock: Callable[[], float] = time.monotonic
    parts: dict[str, Optional[DeploymentState]] = field(default_factory=dict)
    updated_at: Optional[float] = None
    last_error: Optional[str] = None

    def update(self, parts: dict[str, Optional[DeploymentState]]) -> None:
        self.parts, self.updated_at, self.last_error = dict(parts), self.clock(), None

    def failed(self, error: str) -> None:
        self.last_error = error

    def down_tiers(self) -> list[str]:
        """Tiers the controller reports with no running replica (empty before the first snapshot)."""
        return [t for t in self.tiers if t in self.parts and not _up(self.parts[t])]

    def report(self) -> tuple[int, dict]:
        """(HTTP status, body): 200 while at least one tier has a running replica (auto requests
        can be answered); status `ok` when every deployment has one, else `degraded`."""
        if self.updated_at is None:
            return 503, {"status": "starting", "deployments": {}, "detail": self.last_error or "no snapshot yet"}
        if self.clock() - self.updated_at > STALE_AFTER_S:
            return 503, {
                "status": "unavailable",
                "deployments": {},
                "detail": f"no replica state for {STALE_AFTER_S:g}s ({self.last_error})",
            }
        shown = {name: _describe(state) for name, state in self.parts.items()}
        if not any(_up(self.parts.get(t)) for t in self.tiers):
            return 503, {"status": "unavailable", "deployments": shown}
        healthy = all(_up(state) for state in self.parts.values())
        return 200, {"status": "ok" if healthy else "degraded", "deployments": shown}


def _up(state: Optional[DeploymentState]) -> bool:
    return state is not None and state.running > 0


def _describe(state: Optional[DeploymentState]) -> str:
    if state is None:
        return "missing"
    return "ok" if state.running > 0 else f"down ({state.status}, no running replica)"
