"""Circuit breaker, readiness and the failover they drive in ChatFlow/TierClient (no Ray)."""

import asyncio

import pytest

from serve_app import headers as H
from serve_app.circuit import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from serve_app.errors import APIError
from serve_app.readiness import DeploymentState, Readiness
from tests.unit.fakes import Clock, ScriptedHandle, echo_response
from tests.unit.test_chat_flow import body, make_flow, run


def test_breaker_opens_after_consecutive_failures_and_probes_once():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, open_s=5.0, clock=clock)
    breaker.record_failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow() and not breaker.available()
    assert breaker.retry_after_s() == pytest.approx(5.0)
    clock.now += 5.0
    assert breaker.state == HALF_OPEN and breaker.available()
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.record_failure()  # the probe failed: open again for open_s
    assert breaker.state == OPEN
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.failures == 0


def test_a_success_between_failures_keeps_it_closed():
    breaker = CircuitBreaker(failure_threshold=2)
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state == CLOSED


def test_released_probe_lets_the_next_one_through():
    clock = Clock()
    breaker = CircuitBreaker(open_s=1.0, clock=clock)
    breaker.trip()
    clock.now += 1.0
    assert breaker.allow()
    breaker.release_probe()
    assert breaker.allow()


def test_readiness_reports_busy_but_running_as_ready():
    clock = Clock()
    readiness = Readiness(clock=clock)
    assert readiness.report()[0] == 503  # no snapshot yet
    readiness.update(
        {
            "router": DeploymentState("HEALTHY", 1),
            "small": DeploymentState("HEALTHY", 1),
            "large": DeploymentState("UPSCALING", 1),
        }
    )
    assert readiness.report() == (200, {"status": "ok", "deployments": {"router": "ok", "small": "ok", "large": "ok"}})
    readiness.update(
        {
            "router": DeploymentState("HEALTHY", 1),
            "small": DeploymentState("UNHEALTHY", 0),
            "large": DeploymentState("HEALTHY", 1),
        }
    )
    status, report = readiness.report()
    assert status == 200 and report["status"] == "degraded" and report["deployments"]["small"].startswith("down")
    assert readiness.down_tiers() == ["small"]
    readiness.update(
        {"router": None, "small": DeploymentState("UNHEALTHY", 0), "large": DeploymentState("UNHEALTHY", 0)}
    )
    assert readiness.report()[0] == 503
    clock.now += 31
    readiness.update({"small": DeploymentState("HEALTHY", 1), "large": DeploymentState("HEALTHY", 1)})
    clock.now += 31
    readiness.failed("RayActorError")
    status, report = readiness.report()
    assert status == 503 and "RayActorError" in report["detail"]


def test_auto_fails_over_to_large_while_small_is_down():
    flow, small, large = make_flow()
    flow.tiers["small"].breaker.trip()
    result = run(flow.run(body(content="easy")))
    assert result.headers[H.TIER] == "large" and result.headers[H.ROUTE_REASON] == "failover"
    assert result.headers[H.DEGRADED] == "small-down" and result.reason == "failover"
    assert not small.requests and len(large.requests) == 1


def test_auto_fails_over_to_small_while_large_is_down_without_cascade():
    from serve_app.config import CascadePolicy

    flow, small, large = make_flow(cascade=CascadePolicy())
    flow.tiers["large"].breaker.trip()
    result = run(flow.run(body(content="a hard one")))
    assert result.headers[H.TIER] == "small" and result.headers[H.DEGRADED] == "large-down"
    assert H.ESCALATED not in result.headers
    assert len(small.requests) == 1 and not large.requests


@pytest.mark.parametrize("model", ["small", "large"])
def test_direct_request_to_a_down_tier_is_a_prompt_503_with_retry_after(model):
    flow, small, large = make_flow()
    flow.tiers[model].breaker.trip()
    with pytest.raises(APIError) as info:
        run(flow.run(body(model=model)))
    assert info.value.status == 503 and int(info.value.headers["retry-after"]) >= 1
    assert not small.requests and not large.requests


def test_two_failures_open_the_breaker_then_auto_skips_the_tier():
    small = ScriptedHandle(raises=RuntimeError("replica died"))
    flow, _, large = make_flow(small=small)
    for _ in range(2):  # each fails on small, then is answered by large
        assert run(flow.run(body(content="easy"))).headers[H.DEGRADED] == "small-down"
    assert flow.tiers["small"].breaker.state == OPEN
    result = run(flow.run(body(content="easy")))
    assert result.headers[H.TIER] == "large" and result.headers[H.DEGRADED] == "small-down"
    assert len(small.requests) == 2 and len(large.requests) == 3


def test_client_errors_do_not_open_the_breaker():
    from tests.unit.fakes import engine_error

    flow, _, _ = make_flow(small=ScriptedHandle([engine_error(400, "too long")]))
    for _ in range(3):
        with pytest.raises(APIError):
            run(flow.run(body(content="easy")))
    assert flow.tiers["small"].breaker.state == CLOSED


class BackPressureError(Exception):
    """Named like Serve's: recognised by name, without importing Ray."""

    retry_after_s = 2.0


def test_backpressure_is_503_with_retry_after_and_not_a_failure():
    flow, _, _ = make_flow(small=ScriptedHandle(raises=BackPressureError()))
    for _ in range(3):
        with pytest.raises(APIError) as info:
            run(flow.run(body(model="small")))
        assert info.value.status == 503 and info.value.headers["retry-after"] == "2"
    assert flow.tiers["small"].breaker.state == CLOSED


class Unassigned(ScriptedHandle):
    """A handle whose requests never get a replica (Serve with no running replica)."""

    def _remote(self, request, raw):
        gen = super()._remote(request, raw)

        async def never():
            await asyncio.sleep(60)

        gen._fetch_future_result_async = never
        return gen


def test_unassigned_request_fails_fast_and_cancels():
    flow, _, _ = make_flow(small=Unassigned(echo_response))
    flow.tiers["small"]._assign_timeout_s = 0.1
    handle = flow.tiers["small"]._handle
    with pytest.raises(APIError) as info:
        run(flow.run(body(model="small")))
    assert info.value.status == 503 and "no replica took the request within 0.1s" in info.value.message
    assert handle.cancelled


def test_cascade_small_unassigned_falls_back_to_large_quickly():
    from serve_app.config import CascadePolicy

    flow, _, large = make_flow(small=Unassigned(echo_response), cascade=CascadePolicy())
    flow.tiers["small"]._assign_timeout_s = 0.1
    result = run(flow.run(body(content="easy")))
    assert result.tier == "large" and result.headers[H.ESCALATION_REASON] == "small-error"


def test_one_deadline_covers_small_attempt_and_escalation():
    from serve_app.config import CascadePolicy

    slow = ScriptedHandle(echo_response, delay_s=0.3)
    flow, _, _ = make_flow(
        small=slow, large=ScriptedHandle(echo_response, delay_s=0.3), timeout_s=5, cascade=CascadePolicy(threshold=2.0)
    )  # always escalates
    flow.deadline_s = 0.45

    async def timed():
        start = asyncio.get_running_loop().time()
        with pytest.raises(APIError) as info:
            await flow.run(body(content="easy"))
        return info.value, asyncio.get_running_loop().time() - start

    error, elapsed = run(timed())
    assert error.status == 503 and "request deadline" in error.message
    assert error.headers[H.TIER] == "small"
    assert elapsed < 0.6  # not 0.6 s (two attempts)
