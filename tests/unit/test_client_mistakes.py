"""Every client mistake the hardening issue found (500s and 503s before) is a 4xx before any tier
sees the request; body size, read time and depth are bounded; nothing logs prompt text."""

import asyncio
import json
import logging

import pytest

from serve_app.errors import APIError
from serve_app.json_body import parse_json_body, read_body
from serve_app.limits import LimitsConfig
from tests.unit.fakes import ScriptedHandle
from tests.unit.test_chat_flow import body, make_flow, run


def msg(**fields):
    return {"role": "user", "content": "hi", **fields}


def raw(messages=None, **extra):
    return json.dumps({"model": "auto", "messages": messages or [msg()], **extra}).encode()


NAMED_MISTAKES = {
    "role is an object": raw([msg(role={"x": 1})]),
    "role is an array": raw([msg(role=["user"])]),
    "stream_options is a string": raw(stream=True, stream_options="yes"),
    "stream_options is an array": raw(stream=True, stream_options=[1]),
    "include_usage not a boolean": raw(stream=True, stream_options={"include_usage": "yes"}),
    "JSON nested 1000 levels": b'{"model": "auto", "messages": [], "x": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "extra field nested 500 levels": raw(extra_field=json.loads("[" * 500 + "]" * 500)),
    "integer over 4300 digits": b'{"model": "auto", "messages": [], "seed": ' + b"9" * 5000 + b"}",
    "integer over 64 bits": raw(top_k=10**40),
    "content parts empty": raw([msg(content=[])]),
    "content part a bare string": raw([msg(content=["hi"])]),
    "text part without text": raw([msg(content=[{"type": "text"}])]),
    "unknown part type": raw([msg(content=[{"type": "video", "video": {}}])]),
    "part type not a string": raw([msg(content=[{"type": 3}])]),
    "lone surrogate in content": b'{"model": "auto", "messages": [{"role": "user", "content": "x\\ud800y"}]}',
    "lone surrogate in a key": b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "\\udfff": 1}',
    "top_k 1e30": raw(top_k=1e30),
    "temperature NaN": b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
    "temperature 1e999 (infinite)": b'{"model": "auto", "messages": [{"role": "user", "content": "x"}], '
    b'"temperature": 1e999}',
    "temperature a string": raw(temperature="hot"),
    "n 16384": raw(n=16384),
    "max_tokens over the cap": raw(max_tokens=10**6),
    "max_completion_tokens over the cap": raw(max_completion_tokens=10**6),
    "user message without content": raw([{"role": "user"}]),
    "name not a string": raw([msg(name=5)]),
    "invalid UTF-8": b'{"model": "auto", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "prompt over max_prompt_chars": raw([msg(content="x" * 400_001)]),
}


@pytest.mark.parametrize("name", list(NAMED_MISTAKES))
def test_named_client_mistake_is_4xx_before_any_tier(name):
    flow, small, large = make_flow()
    routed = []

    async def route(messages):
        routed.append(messages)
        raise AssertionError("the router must not see a bad request")

    flow.route_fn = route
    with pytest.raises(APIError) as info:
        run(flow.run(NAMED_MISTAKES[name]))
    assert 400 <= info.value.status < 500, info.value.message
    assert set(info.value.body()["error"]) == {"message", "type", "param", "code"}
    assert not small.requests and not large.requests and not routed


def test_missing_max_tokens_gets_the_default_and_null_too():
    for extra in ({}, {"max_tokens": None}):
        flow, small, _ = make_flow()
        run(flow.run(body(model="small", **extra)))
        assert small.requests[0].max_tokens == LimitsConfig().default_max_tokens


def test_client_max_tokens_within_cap_is_kept():
    flow, small, _ = make_flow()
    run(flow.run(body(model="small", max_tokens=7)))
    assert small.requests[0].max_tokens == 7


def test_client_request_id_never_reaches_the_engine():
    flow, small, _ = make_flow()
    run(flow.run(body(model="small", request_id="fixed-id")))
    assert "request_id" not in small.requests[0].model_dump(exclude_unset=True)


def test_valid_content_parts_pass():
    flow, small, _ = make_flow()
    parts = [{"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "data:,"}}]
    run(flow.run(raw([msg(content=parts)], model="small")))
    assert small.requests[0].messages[0]["content"] == parts


def test_deeply_nested_tool_schema_within_depth_passes():
    nested = {"type": "object"}
    for _ in range(20):
        nested = {"type": "object", "properties": {"x": nested}}
    assert parse_json_body(raw(response_format={"type": "json_schema", "json_schema": {"schema": nested}}))


def chunks(*parts, stall_s=0.0):
    async def gen():
        for part in parts:
            yield part
        if stall_s:
            await asyncio.sleep(stall_s)
            yield b""

    return gen()


def test_body_over_the_declared_limit_is_413_before_reading():
    with pytest.raises(APIError) as info:
        run(read_body(chunks(b"x"), "2000000", 1_048_576, 1.0))
    assert info.value.status == 413


def test_body_over_the_limit_without_length_is_413():
    with pytest.raises(APIError) as info:
        run(read_body(chunks(b"x" * 600, b"x" * 600), None, 1024, 1.0))
    assert info.value.status == 413


def test_body_shorter_than_content_length_times_out_with_408():
    with pytest.raises(APIError) as info:
        run(read_body(chunks(b'{"model":', stall_s=5), "100", 1024, 0.2))
    assert info.value.status == 408


def test_bad_content_length_is_400():
    with pytest.raises(APIError) as info:
        run(read_body(chunks(b"{}"), "ten", 1024, 1.0))
    assert info.value.status == 400


def test_tier_failure_logs_no_prompt_text(caplog):
    secret = "my-secret-system-prompt"

    class EchoingError(RuntimeError):
        pass

    flow, _, _ = make_flow(
        small=ScriptedHandle(raises=EchoingError(f"bad input: {secret}")),
        large=ScriptedHandle(raises=EchoingError(f"bad input: {secret}")),
    )

    async def broken_router(messages):
        raise ValueError(f"cannot score {secret}")

    flow.route_fn = broken_router
    with caplog.at_level(logging.DEBUG):
        for model in ("auto", "small"):
            with pytest.raises(APIError):
                run(flow.run(body(model=model, content=secret)))
    assert caplog.records and not any(secret in r.getMessage() for r in caplog.records)


def test_engine_validation_message_is_one_short_line():
    def strict(body_):
        raise RuntimeError("first line\nsecond line with the whole request " + "x" * 1000)

    flow, _, _ = make_flow()
    flow.request_factory = strict
    with pytest.raises(APIError) as info:
        run(flow.run(body()))
    assert info.value.status == 400 and "\n" not in info.value.message and len(info.value.message) < 300


def test_client_disconnect_while_reading_is_a_4xx_not_a_bug():
    class ClientDisconnect(Exception):
        pass

    async def gone():
        yield b"{"
        raise ClientDisconnect()

    with pytest.raises(APIError) as info:
        run(read_body(gone(), None, 1024, 1.0))
    assert info.value.status == 400


def test_a_non_string_text_key_on_another_part_type_is_not_a_500():
    """Counting prompt characters looked at `text` on every part (a TypeError, so a 500, for
    `"text": 5` on an image part); only string text counts."""
    flow, small, large = make_flow()
    part = {"type": "image_url", "image_url": {"url": "http://example.com/a.png"}, "text": 5}
    result = run(flow.run(raw([msg(content=[part])])))
    assert result.tier in ("small", "large")
