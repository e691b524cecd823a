"""The ingress's catch-alls (the /v1 routes' guard, and the app's last resort): a bug is a 500
naming the request id, logged with the caller's key id and the exception's type only; client
mistakes keep their status. No Ray: the handlers alone."""

import asyncio
import hashlib
import json
import logging

from starlette.requests import Request

from serve_app import headers as H
from serve_app.auth import Authenticator, RateLimitConfig
from serve_app.errors import APIError
from serve_app.graph.ingress import TierRouterIngress
from serve_app.last_resort import LastResortMiddleware


class Statuses(list):
    def error(self, status: int) -> None:
        self.append(status)


def guarded(handler, authorization="Bearer right"):
    ingress = object.__new__(TierRouterIngress)
    ingress._auth, ingress._observer = Authenticator(["right"], RateLimitConfig()), Statuses()
    headers = [(H.REQUEST_ID.encode(), b"rid-1"), (b"authorization", authorization.encode())]
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": headers})
    return asyncio.run(ingress._guarded(request, handler)), ingress._observer


def test_a_bug_is_a_500_logged_with_the_key_id_and_never_the_message(caplog):
    async def buggy():
        raise RuntimeError("the prompt text")

    with caplog.at_level(logging.ERROR, logger="serve_app.graph.ingress"):
        response, errors = guarded(buggy)
    assert response.status_code == 500 and errors == [500]
    assert json.loads(response.body)["error"]["message"] == "Internal error (request id rid-1)."
    key_id = hashlib.sha256(b"right").hexdigest()[:8]
    assert caplog.messages == [f"request rid-1 failed: RuntimeError (bug) (key {key_id})"]
    assert "prompt" not in caplog.text


def test_client_mistakes_keep_their_status_and_log_nothing(caplog):
    async def missing():
        raise APIError(404, "no such model", "not_found_error")

    with caplog.at_level(logging.ERROR, logger="serve_app.graph.ingress"):
        assert guarded(missing)[0].status_code == 404
        response, errors = guarded(missing, authorization="Bearer wrong")
    assert response.status_code == 401 and errors == [401] and not caplog.messages


def _app_with_bugs():
    from fastapi import FastAPI
    from starlette.responses import StreamingResponse

    app = FastAPI()

    @app.get("/health")
    async def health():
        raise RuntimeError("the prompt text")

    @app.get("/stream")
    async def stream():
        async def frames():
            yield "data: first\n\n"
            raise RuntimeError("the prompt text")

        return StreamingResponse(frames(), media_type="text/event-stream")

    app.add_middleware(LastResortMiddleware)
    return app


def test_a_bug_outside_the_api_routes_is_an_openai_500_and_never_reraised(caplog):
    """/health or a middleware: JSON 500 naming the id, the type logged, nothing re-raised (Serve would
    log a re-raised exception with its message)."""
    from starlette.testclient import TestClient

    client = TestClient(_app_with_bugs(), raise_server_exceptions=True)
    with caplog.at_level(logging.ERROR, logger="serve_app.last_resort"):
        response = client.get("/health", headers={H.REQUEST_ID: "rid-2"})
        streamed = client.get("/stream", headers={H.REQUEST_ID: "rid-3"})
        no_id = client.get("/health")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "Internal error (request id rid-2)."
    assert H.REQUEST_ID not in response.headers  # Serve's proxy already sends the id it gave
    assert streamed.status_code == 200 and streamed.text == "data: first\n\n"  # ends early, no raise
    assert no_id.json()["error"]["message"] == f"Internal error (request id {no_id.headers[H.REQUEST_ID]})."
    assert caplog.messages[:2] == [
        "request rid-2 failed outside the API routes: RuntimeError (bug)",
        "request rid-3 failed after the response started: RuntimeError (bug)",
    ]
    assert "prompt" not in caplog.text
