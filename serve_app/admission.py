"""Admission: the ingress replica's own bound on chat requests in flight (`limits.max_in_flight`).

It sits below Serve's `max_ongoing_requests` for the ingress, so under overload Serve's proxy still
hands requests to the replica and the ingress answers the excess itself, at once, with an
OpenAI-shaped JSON 503 and Retry-After. Without it the excess waited in the proxy's queue and,
once that was full, got the proxy's plain-text 503.

A pure ASGI middleware: a request counts from the moment the replica gets it until the response
is finished (a streamed answer until its last byte, a dropped client when Serve cancels it), which
is exactly what Serve's own in-flight count covers. No Ray import.
"""

from typing import Any, Callable, Optional

from starlette.responses import JSONResponse

from serve_app.errors import overloaded

CHAT_PATH = "/v1/chat/completions"


class AdmissionGate:
    """At most `limit` requests at once; `on_reject` is called for each one turned away."""

    def __init__(self, limit: int, retry_after_s: float, on_reject: Optional[Callable[[], None]] = None):
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.on_reject = on_reject
        self.in_flight = 0

    def try_enter(self) -> bool:
        if self.in_flight >= self.limit:
            if self.on_reject is not None:
                self.on_reject()
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1

    def rejection(self) -> JSONResponse:
        error = overloaded(f"more than {self.limit} requests in flight on this replica", self.retry_after_s)
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


class AdmissionMiddleware:
    """Gates POST chat requests with the gate `gate_of()` returns (the serving replica's; Serve runs
    a frozen copy of the app, so the gate is looked up per request, not stored here); other requests
    (health probes, model listing) pass, as do all when there is no gate."""

    def __init__(self, app: Any, gate_of: Callable[[], Optional[AdmissionGate]]):
        self.app = app
        self.gate_of = gate_of

    def _gate(self, scope: dict[str, Any]) -> Optional[AdmissionGate]:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope["path"].endswith(CHAT_PATH):
            return None
        return self.gate_of()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        gate = self._gate(scope)
        if gate is None:
            await self.app(scope, receive, send)
            return
        if not gate.try_enter():
            await gate.rejection()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()
