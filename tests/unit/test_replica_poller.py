"""The readiness poller opens a tier's breaker while the tier has no running replica and closes it
when one runs again (no Ray: the controller's snapshot is replaced by a scripted sequence)."""

import asyncio

import pytest

from serve_app.circuit import CircuitBreaker
from serve_app.graph import replica_states
from serve_app.readiness import DeploymentState, Readiness

UP, DOWN = DeploymentState("HEALTHY", 1), DeploymentState("UPDATING", 0)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def poll_through(monkeypatch, snapshots, breakers):
    """Poll once per snapshot; returns each breaker's `available()` after every poll."""
    feed = iter(snapshots)
    monkeypatch.setattr(replica_states, "fetch_states", lambda app, deployments: next(feed))
    poller = replica_states.ReplicaStatePoller(
        Readiness(),
        "app",
        {"small": "Tier:small", "large": "Tier:large"},
        2.0,
        lambda tier: breakers[tier].trip(),
        lambda tier: breakers[tier].close(),
    )
    seen = []
    for _ in snapshots:
        asyncio.run(poller.poll_once())
        seen.append({tier: b.available() for tier, b in breakers.items()})
    return seen


def test_a_starting_tier_is_open_then_closed_once_it_runs(monkeypatch):
    clock = FakeClock()
    breakers = {t: CircuitBreaker(2, 5.0, clock) for t in ("small", "large")}
    seen = poll_through(
        monkeypatch,
        [{"small": DOWN, "large": DOWN}, {"small": UP, "large": DOWN}, {"small": UP, "large": UP}],
        breakers,
    )
    assert seen == [
        {"small": False, "large": False},
        {"small": True, "large": False},
        {"small": True, "large": True},
    ]
    # Closed, not half-open: many concurrent requests are let through, not one probe.
    assert all(breakers["large"].allow() for _ in range(8))


def test_a_breaker_opened_by_failures_on_a_running_tier_is_left_to_the_breaker(monkeypatch):
    clock = FakeClock()
    breakers = {t: CircuitBreaker(2, 5.0, clock) for t in ("small", "large")}
    breakers["small"].record_failure()
    breakers["small"].record_failure()  # two 5xx in a row while Serve reports the tier running
    seen = poll_through(monkeypatch, [{"small": UP, "large": UP}] * 3, breakers)
    assert [s["small"] for s in seen] == [False, False, False]
    clock.now = 5.0  # after open_s: one probe, as before
    assert breakers["small"].allow() and not breakers["small"].allow()


def test_a_killed_replica_opens_the_tier_until_its_replacement_runs(monkeypatch):
    clock = FakeClock()
    breakers = {t: CircuitBreaker(2, 5.0, clock) for t in ("small", "large")}
    seen = poll_through(
        monkeypatch,
        [{"small": UP, "large": UP}, {"small": DOWN, "large": UP}, {"small": DOWN, "large": UP}]
        + [{"small": UP, "large": UP}],
        breakers,
    )
    assert [s["small"] for s in seen] == [True, False, False, True]
    assert all(s["large"] for s in seen)


def test_a_deployment_missing_from_the_snapshot_is_not_called_up(monkeypatch):
    clock = FakeClock()
    breakers = {t: CircuitBreaker(2, 5.0, clock) for t in ("small", "large")}
    seen = poll_through(monkeypatch, [{"small": DOWN, "large": UP}, {"small": None, "large": UP}], breakers)
    assert [s["small"] for s in seen] == [False, False]


def test_states_from_the_controllers_details_dict():
    class State:  # Ray's enums carry their text in `.value`
        def __init__(self, value):
            self.value = value

    details = {
        "applications": {
            "app": {
                "deployments": {
                    "Tier:small": {
                        "status": State("HEALTHY"),
                        "replicas": [{"state": State("RUNNING")}, {"state": "STARTING"}, {"state": "RUNNING"}],
                    },
                    "Tier:large": {"status": "UPDATING", "replicas": [{"state": "STARTING"}]},
                }
            }
        }
    }
    names = {"small": "Tier:small", "large": "Tier:large", "router": "ComplexityRouter"}
    assert replica_states.states_from_details(details, "app", names) == {
        "small": DeploymentState("HEALTHY", 2),
        "large": DeploymentState("UPDATING", 0),
        "router": None,
    }
    with pytest.raises(replica_states.AppNotListed):  # a failed poll, not "every tier down"
        replica_states.states_from_details({"applications": {}}, "app", names)


def test_a_changed_details_shape_falls_back_to_serve_status(monkeypatch):
    monkeypatch.setattr(replica_states, "_serve_details", lambda: {"apps": {}})
    monkeypatch.setattr(replica_states, "_states_from_status", lambda app, names: {"small": UP})
    assert replica_states.fetch_states("app", {"small": "Tier:small"}) == {"small": UP}


def test_an_app_the_controller_does_not_list_is_a_failed_poll_not_every_tier_down(monkeypatch):
    monkeypatch.setattr(replica_states, "_serve_details", lambda: {"applications": {}})
    breakers = {"small": CircuitBreaker(), "large": CircuitBreaker()}
    poller = replica_states.ReplicaStatePoller(
        Readiness(), "app", {"small": "Tier:small"}, 2.0, lambda t: breakers[t].trip(), lambda t: None
    )
    asyncio.run(poller.poll_once())
    assert poller.readiness.last_error == "AppNotListed"
    assert all(b.available() for b in breakers.values())
