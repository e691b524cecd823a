"""The ingress's last resort for a bug outside the /v1 routes' own guard (`/health`, the admission
middleware, a stream that fails after its headers went out).

A pure ASGI middleware, outermost of the app's own: it answers an OpenAI-shaped JSON 500 naming the
request id when nothing has been sent yet, and never re-raises. Starlette's `exception_handler(
Exception)` re-raises after answering, and Ray Serve then logs the exception with its message and
traceback, which may carry request text; here only the exception's type is logged. No Ray import.
"""

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from serve_app import headers as H
from serve_app.errors import internal_error

logger = logging.getLogger(__name__)


class LastResortMiddleware:
    """Turns any exception escaping the app into a logged 500 (type only) and, when the response
    has not started, an OpenAI JSON error body with the request id."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            request_id, generated = H.request_id_of(Headers(scope=scope))
            where = "after the response started" if started else "outside the API routes"
            logger.error("request %s failed %s: %s (bug)", request_id, where, type(exc).__name__)
            if started:
                return  # the client sees the response end early; nothing more can be sent
            error = internal_error(request_id)
            headers = {**(error.headers or {}), **({H.REQUEST_ID: request_id} if generated else {})}
            await JSONResponse(error.body(), status_code=error.status, headers=headers)(scope, receive, send)
