"""TierRouterIngress: the OpenAI-compatible HTTP front door (FastAPI through `serve.ingress`).

Thin: request logic lives in ChatFlow, bounds in serve_app.limits/json_body, admission in
serve_app.admission, the last-resort 500 in serve_app.last_resort, keys in serve_app.auth, breakers in
serve_app.circuit, readiness in serve_app.readiness.

Request ids: Serve's HTTP proxy gives every request one `x-request-id` (the client's own, or one it
generates), puts it on the request the ingress sees and on the response; the ingress uses that id
in its logs and 500 bodies and adds no header of its own. Only a request that did not come through
the proxy (none carries the header) gets a fresh id, which the ingress then sends back itself.
"""

import logging
import time
from typing import Any, Awaitable, Callable, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve_app import headers as H
from serve_app.admission import AdmissionGate, AdmissionMiddleware
from serve_app.auth import Authenticator, load_keys
from serve_app.cascade.policy import CascadePolicy
from serve_app.chat_flow import ChatFlow
from serve_app.circuit import CircuitBreaker
from serve_app.config import BACKPRESSURE_RETRY_AFTER_S, IngressConfig
from serve_app.errors import APIError, internal_error, model_not_found
from serve_app.graph.loopback_grpc import bind_replica_grpc_to_loopback
from serve_app.graph.metrics import IngressMetrics
from serve_app.graph.replica_states import ReplicaStatePoller
from serve_app.json_body import read_body
from serve_app.last_resort import LastResortMiddleware
from serve_app.operations.alarm import LargeShareAlarm
from serve_app.operations.judge_wiring import build_judge, judge_recorded_pairs
from serve_app.operations.observer import RequestObserver
from serve_app.operations.shadow import ShadowStore
from serve_app.operations.shadow_runner import ShadowRunner
from serve_app.readiness import Readiness
from serve_app.tier_client import TierClient
from serve_app.vocabulary import SERVED_MODELS

logger = logging.getLogger(__name__)
app = FastAPI(title="tier-router")


def _replica_admission() -> Optional[AdmissionGate]:
    """The serving replica's admission gate (Serve runs a frozen copy of `app`, so the middleware
    finds the gate through the replica's instance, as Serve's own class-based views do)."""
    from ray import serve

    return getattr(serve.get_replica_context().servable_object, "admission", None)


app.add_middleware(AdmissionMiddleware, gate_of=_replica_admission)
app.add_middleware(LastResortMiddleware)  # added last: outermost, around admission too


def _with_id(response: Response, request_id: str, generated: bool) -> Response:
    """The proxy already sends the id; only an id the ingress made up goes out from here."""
    if generated:
        response.headers[H.REQUEST_ID] = request_id
    return response


def _error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


@app.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    return _error_response(APIError(exc.status_code, str(exc.detail), kind))


@app.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    return _error_response(APIError(400, f"Invalid request: {first.get('msg', 'malformed')}"))


def build_observer(
    cfg: IngressConfig, tiers: dict[str, TierClient], make_request: Any, cascade_policy: Any = None
) -> RequestObserver:
    """Metrics, alarm and (if sampled) shadow A/B, with its judge, for this replica;
    `cascade_policy()` is the live cascade policy (shadow small answers get its confidence)."""
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
            cascade_policy=cascade_policy,
        )
    alarm = LargeShareAlarm(cfg.alarm.large_share_ceiling, cfg.alarm.window_s, cfg.alarm.min_requests)
    return RequestObserver(metrics, alarm, cfg.costs, shadow)


def _chat_request_model() -> Any:
    from ray.serve.llm.openai_api_models import ChatCompletionRequest

    return ChatCompletionRequest


def _chat_request(body: dict[str, Any]) -> Any:
    return _chat_request_model().model_validate(body)


def _router_route(router: Any, router_config: dict[str, Any] | None) -> Any:
    """The route coroutine for a router deployment handle, or, when `router` is None
    (`router.placement: in_process`), for a router built inside this replica."""
    if router is None:
        from serve_app.graph.router import InProcessRouter

        return InProcessRouter(router_config or {}).route

    async def route(messages: list[dict[str, Any]]):
        return await router.route.remote(messages)

    return route


def build_tiers(cfg: IngressConfig, handles: dict[str, Any]) -> dict[str, TierClient]:
    return {
        name: TierClient(
            name,
            handle.options(stream=True),
            cfg.request_timeout_s,
            cfg.stream_idle_timeout_s,
            cfg.assign_timeout_s,
            CircuitBreaker.from_config(cfg.breaker),
        )
        for name, handle in handles.items()
    }


class TierRouterIngress:
    """Composes the router and the two tiers through DeploymentHandles."""

    def __init__(
        self,
        router: Any,
        small: Any,
        large: Any,
        config: dict[str, Any],
        deployments: dict[str, str],
        router_config: dict[str, Any] | None = None,
    ):
        """`deployments`: {short name: Serve deployment name} whose replica states are readiness (no
        router entry when the router runs in-process); `router_config`: the in-process router's."""
        bind_replica_grpc_to_loopback()
        # Import the request model now: it pulls in vLLM's protocol module (~12 s here), and on the
        # first request that import blocked this replica's event loop, /health and every request.
        _chat_request_model()
        cfg = IngressConfig.model_validate(config)
        self._cfg = cfg
        self._auth = Authenticator(load_keys(cfg.auth), cfg.auth.rate_limit)
        route = _router_route(router, router_config)

        tiers = build_tiers(cfg, {"small": small, "large": large})
        self._flow = ChatFlow(
            route, tiers, _chat_request, cfg.router_timeout_s, cfg.cascade, cfg.limits, cfg.request_timeout_s
        )
        self._created = int(time.time())
        self._observer = build_observer(cfg, tiers, self._flow.make_request, lambda: self._flow.cascade_policy)
        self.admission = AdmissionGate(
            cfg.limits.max_in_flight, BACKPRESSURE_RETRY_AFTER_S, lambda: self._observer.error(503)
        )
        self._poller = ReplicaStatePoller(
            Readiness(),
            _app_name(),
            deployments,
            cfg.readiness_poll_s,
            lambda tier: tiers[tier].breaker.trip(),
            lambda tier: tiers[tier].breaker.close(),
        )

    def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Live cascade policy (`serve deploy` with a new user_config; no restart)."""
        self._flow.cascade_policy = CascadePolicy.model_validate(user_config)

    async def _guarded(self, request: Request, handler: Callable[[], Awaitable[Response]]) -> Response:
        """Auth, then `handler()`; any APIError becomes its JSON answer, anything else a 500 (the
        /v1 routes' catch-all) logged with the request id, the exception's type and the caller's
        key id only (never the body or the exception's message)."""
        request_id, generated = H.request_id_of(request.headers)
        key_id = None
        try:
            key_id = self._auth.check(request.headers.get("authorization"))
            response = await handler()
        except APIError as error:
            self._observer.error(error.status)
            response = _error_response(error)
        except Exception as exc:
            by = f" (key {key_id})" if key_id else ""
            logger.error("request %s failed: %s (bug)%s", request_id, type(exc).__name__, by)
            self._observer.error(500)
            response = _error_response(internal_error(request_id))
        return _with_id(response, request_id, generated)

    @app.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Response:
        self._poller.ensure_started()
        return await self._guarded(request, lambda: self._chat(request))

    async def _chat(self, request: Request) -> Response:
        start = time.perf_counter()
        limits = self._cfg.limits
        raw = await read_body(
            request.stream(), request.headers.get("content-length"), limits.max_body_bytes, limits.body_read_timeout_s
        )
        result = await self._flow.run(raw)
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

    def _model_card(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "tier-router"}

    @app.get("/v1/models")
    async def models(self, request: Request) -> Response:
        async def listing() -> Response:
            return JSONResponse({"object": "list", "data": [self._model_card(m) for m in SERVED_MODELS]})

        return await self._guarded(request, listing)

    @app.get("/v1/models/{model_id}")
    async def model(self, model_id: str, request: Request) -> Response:
        async def card() -> Response:
            if model_id not in SERVED_MODELS:
                raise model_not_found(model_id, list(SERVED_MODELS))
            return JSONResponse(self._model_card(model_id))

        return await self._guarded(request, card)

    @app.get("/health")
    async def health(self) -> JSONResponse:
        """Readiness: 200 while a tier has a running replica (Serve's own replica states, polled in
        the background; never a call queued behind user traffic), else 503 naming what is down."""
        self._poller.ensure_started()
        if self._poller.readiness.updated_at is None:
            await self._poller.poll_once()
        status, body = self._poller.readiness.report()
        return JSONResponse(body, status_code=status)

    @app.get("/health/live")
    async def live(self) -> JSONResponse:
        """Liveness: this ingress replica answers HTTP."""
        return JSONResponse({"status": "ok"})


def _app_name() -> str:
    from ray import serve

    return serve.get_replica_context().app_name
