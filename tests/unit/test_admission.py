"""The ingress's admission gate (pure ASGI): chat requests over the limit get an OpenAI-shaped JSON
503 with Retry-After at once; a request counts until its response (stream included) is finished or
cancelled; other paths and an app without a gate pass."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from serve_app.admission import AdmissionGate, AdmissionMiddleware
from serve_app.config import IngressConfig


def make_app(gate):
    release = asyncio.Event()

    async def chat(request):
        if request.query_params.get("fail"):
            raise RuntimeError("boom")
        if request.query_params.get("stream"):

            async def chunks():
                yield b"a"
                await release.wait()
                yield b"b"

            return StreamingResponse(chunks())
        await release.wait()
        return JSONResponse({"ok": True})

    async def health(request):
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/p/v1/chat/completions", chat, methods=["POST"]), Route("/health", health)])
    app.add_middleware(AdmissionMiddleware, gate_of=lambda: gate)
    return app, release


def client(app):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")


def test_over_the_limit_is_a_json_503_with_retry_after_and_slots_come_back():
    rejected = []
    gate = AdmissionGate(2, 1, lambda: rejected.append(1))
    app, release = make_app(gate)

    async def run():
        async with client(app) as c:
            held = [asyncio.create_task(c.post("/p/v1/chat/completions")) for _ in range(2)]
            while gate.in_flight < 2:
                await asyncio.sleep(0.01)
            shed = await c.post("/p/v1/chat/completions")
            health = await c.get("/health")
            release.set()
            done = [await t for t in held]
            after = await c.post("/p/v1/chat/completions")
            return shed, health, done, after

    shed, health, done, after = asyncio.run(run())
    assert shed.status_code == 503 and shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "overloaded" and shed.json()["error"]["type"] == "service_unavailable"
    assert set(shed.json()["error"]) == {"message", "type", "param", "code"}
    assert health.status_code == 200
    assert [r.status_code for r in done] == [200, 200] and after.status_code == 200
    assert rejected == [1] and gate.in_flight == 0


def _scope(query: bytes = b"") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/p/v1/chat/completions",
        "raw_path": b"/p/v1/chat/completions",
        "query_string": query,
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
    }


def test_a_stream_holds_its_slot_until_its_last_chunk():
    gate = AdmissionGate(1, 1)
    app, release = make_app(gate)

    async def run():
        first_chunk, sent, requested = asyncio.Event(), [], []

        async def receive():
            if requested:  # the body was read: now only a disconnect could come, and none does
                await asyncio.Event().wait()
            requested.append(1)
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body") == b"a":
                first_chunk.set()

        streaming = asyncio.create_task(app(_scope(b"stream=1"), receive, send))
        await first_chunk.wait()
        async with client(app) as c:
            during = (await c.post("/p/v1/chat/completions")).status_code
        release.set()
        await streaming
        return during, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    assert asyncio.run(run()) == (503, b"ab")
    assert gate.in_flight == 0


def test_a_failed_or_cancelled_request_gives_its_slot_back():
    gate = AdmissionGate(1, 1)
    app, _ = make_app(gate)

    async def run():
        async with client(app) as c:
            failed = await c.post("/p/v1/chat/completions?fail=1")
            task = asyncio.create_task(c.post("/p/v1/chat/completions"))
            while gate.in_flight < 1:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return failed

    assert asyncio.run(run()).status_code == 500
    assert gate.in_flight == 0


def test_no_gate_means_no_limit():
    app, release = make_app(None)
    release.set()

    async def run():
        async with client(app) as c:
            return await asyncio.gather(*(c.post("/p/v1/chat/completions") for _ in range(5)))

    assert [r.status_code for r in asyncio.run(run())] == [200] * 5


def test_admission_limit_must_stay_below_serves_bound():
    assert IngressConfig().limits.max_in_flight < IngressConfig().max_ongoing_requests
    with pytest.raises(ValueError, match="max_in_flight"):
        IngressConfig.model_validate({"max_ongoing_requests": 64})
    IngressConfig.model_validate({"max_ongoing_requests": 64, "limits": {"max_in_flight": 48}})
