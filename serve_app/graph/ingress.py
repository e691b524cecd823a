"""TierRouterIngress: the OpenAI-compatible HTTP front door (FastAPI through `serve.ingress`)."""

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve_app.cascade.policy import CascadePolicy
from serve_app.chat_flow import ChatFlow
from serve_app.config import IngressConfig
from serve_app.errors import APIError
from serve_app.graph.metrics import IngressMetrics
from serve_app.operations.alarm import LargeShareAlarm
from serve_app.operations.judge_wiring import build_judge, judge_recorded_pairs
from serve_app.operations.observer import RequestObserver
from serve_app.operations.shadow import ShadowStore
from serve_app.operations.shadow_runner import ShadowRunner
from serve_app.tier_client import TierClient
from serve_app.vocabulary import SERVED_MODELS

app = FastAPI(title="tier-router")
HEALTH_TIMEOUT_S = 2.0


def _error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=getattr(error, "headers", None))


@app.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return _error_response(APIError(exc.status_code, str(exc.detail), kind))


@app.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    return _error_response(APIError(400, str(exc.errors()[:1])))


def build_observer(cfg: IngressConfig, tiers: dict[str, TierClient], make_request: Any) -> RequestObserver:
    """Metrics, alarm and (if sampled) shadow A/B, with its judge, for this replica."""
    metrics = IngressMetrics()
    shadow = None
    if cfg.shadow.sample_rate > 0:
        store = ShadowStore(cfg.shadow.store_path, cfg.shadow.max_rows, cfg.shadow.store_prompts)
        judge = build_judge(cfg.shadow.judge, store, tiers["large"], make_request, metrics)
        shadow = ShadowRunner(
            tiers,
            store,
            cfg.shadow.sample_rate,
            cfg.shadow.max_in_flight,
            make_request,
            on_event=lambda event: metrics.shadow.inc(tags={"outcome": event}),
            on_pair=judge_recorded_pairs(judge),
        )
    alarm = LargeShareAlarm(cfg.alarm.large_share_ceiling, cfg.alarm.window_s, cfg.alarm.min_requests)
    return RequestObserver(metrics, alarm, cfg.costs, shadow)


def _chat_request(body: dict[str, Any]) -> Any:
    from ray.serve.llm.openai_api_models import ChatCompletionRequest

    return ChatCompletionRequest.model_validate(body)


class _LocalCall:
    """Gives an in-process coroutine function the handle-method shape (`.remote()`) /health uses."""

    def __init__(self, method: Any):
        self.remote = method


def _router_calls(router: Any, router_config: dict[str, Any] | None) -> tuple[Any, Any]:
    """(route coroutine, health check) for a router deployment handle, or, when `router` is None
    (`router.placement: in_process`), for a router built inside this replica."""
    if router is None:
        from serve_app.graph.router import InProcessRouter

        local = InProcessRouter(router_config or {})
        return local.route, _LocalCall(local.health)

    async def route(messages: list[dict[str, Any]]):
        return await router.route.remote(messages)

    return route, router.stats


class TierRouterIngress:
    """Composes the router and the two tiers through DeploymentHandles."""

    def __init__(
        self, router: Any, small: Any, large: Any, config: dict[str, Any], router_config: dict[str, Any] | None = None
    ):
        cfg = IngressConfig.model_validate(config)
        route, router_health = _router_calls(router, router_config)
        self._health_checks = {"router": router_health, "small": small.check_health, "large": large.check_health}

        tiers = {
            name: TierClient(name, handle.options(stream=True), cfg.request_timeout_s, cfg.stream_idle_timeout_s)
            for name, handle in (("small", small), ("large", large))
        }
        self._flow = ChatFlow(route, tiers, _chat_request, cfg.router_timeout_s, cfg.cascade)
        self._created = int(time.time())
        self._observer = build_observer(cfg, tiers, self._flow.make_request)

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Live cascade policy (`serve deploy` with a new user_config; no restart)."""
        self._flow.cascade_policy = CascadePolicy.model_validate(user_config)

    @app.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        start = time.perf_counter()
        try:
            result = await self._flow.run(await request.body())
        except APIError as error:
            self._observer.error(error.status)
            return _error_response(error)
        if result.stream is not None:
            return StreamingResponse(
                self._observed_stream(result, start), media_type="text/event-stream", headers=result.headers
            )
        self._observer.finish(result, time.perf_counter() - start)
        return JSONResponse(result.body, headers=result.headers)

    async def _observed_stream(self, result: Any, start: float):
        ttft = None
        async for frame in result.stream:
            if ttft is None:
                ttft = time.perf_counter() - start
            yield frame
        self._observer.finish(result, time.perf_counter() - start, ttft)

    @app.get("/v1/models")
    async def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": self._created, "owned_by": "tier-router"} for m in SERVED_MODELS
            ],
        }

    @app.get("/health")
    async def health(self) -> JSONResponse:
        """200 when the router and both tiers answer within 2 s, else 503 naming what does not."""

        async def probe(method: Any) -> str:
            try:
                await asyncio.wait_for(method.remote(), HEALTH_TIMEOUT_S)
                return "ok"
            except Exception as exc:
                return f"unavailable: {type(exc).__name__}"

        names = list(self._health_checks)
        states = await asyncio.gather(*(probe(self._health_checks[n]) for n in names))
        parts = dict(zip(names, states, strict=True))
        healthy = all(state == "ok" for state in states)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "deployments": parts}, status_code=200 if healthy else 503
        )
