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
from serve_app.graph import ingress as ingress_module
from serve_app.graph.ingress import TierRouterIngress


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


def test_a_bug_outside_the_api_routes_is_an_openai_500_too(caplog):
    """/health or the admission middleware: the app-level handler answers JSON, never plain text."""
    headers = [(H.REQUEST_ID.encode(), b"rid-2")]
    request = Request({"type": "http", "method": "GET", "path": "/health", "headers": headers})
    with caplog.at_level(logging.ERROR, logger="serve_app.graph.ingress"):
        response = asyncio.run(ingress_module._unexpected(request, RuntimeError("the prompt text")))
    assert response.status_code == 500
    assert json.loads(response.body)["error"]["message"] == "Internal error (request id rid-2)."
    assert caplog.messages == ["request rid-2 failed outside the API routes: RuntimeError (bug)"]
    assert "prompt" not in caplog.text
