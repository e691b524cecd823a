"""Property-based fuzz of the ingress's request logic (ChatFlow over echo tiers, no Ray): whatever
the body, the answer is a completion or an OpenAI error with a 4xx status, and nothing else
escapes (the ingress would turn it into a 500)."""

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_app.errors import APIError
from tests.unit.fakes import ScriptedHandle, echo_response, echo_stream
from tests.unit.test_chat_flow import make_flow

NASTY_TEXT = ["", "x\ud800y", "\udfff", "\x00", "hi", "🙂" * 3, "a" * 500, "__echo_fail__"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(NASTY_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
parts = st.lists(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"type": st.sampled_from(["text", "image_url", "video", 3])},
            optional={"text": json_values, "image_url": json_values},
        ),
    ),
    max_size=3,
)
messages = st.lists(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"role": st.one_of(st.sampled_from(["user", "system", "assistant", "tool", "robot"]), json_values)},
            optional={"content": st.one_of(st.sampled_from(NASTY_TEXT), parts, json_values), "name": json_values},
        ),
    ),
    max_size=3,
)
bodies = st.fixed_dictionaries(
    {
        "model": st.one_of(st.sampled_from(["auto", "small", "large", "gpt-4"]), json_values),
        "messages": st.one_of(messages, json_values),
    },
    optional={
        key: json_values
        for key in (
            "stream",
            "stream_options",
            "max_tokens",
            "n",
            "temperature",
            "top_k",
            "top_p",
            "logprobs",
            "request_id",
            "tier_router",
            "extra",
        )
    },
)


def encode(body) -> bytes:
    return json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


async def answer(raw: bytes):
    flow, _, _ = make_flow(
        small=ScriptedHandle(lambda r: (echo_stream if r.stream else echo_response)(r)),
        large=ScriptedHandle(lambda r: (echo_stream if r.stream else echo_response)(r)),
    )
    try:
        result = await flow.run(raw)
    except APIError as error:
        return error
    if result.stream is not None:
        return [frame async for frame in result.stream]
    return result.body


def check(outcome) -> None:
    if isinstance(outcome, APIError):
        assert 400 <= outcome.status < 500 or "__echo_fail__" in outcome.message, outcome.message
        assert set(outcome.body()["error"]) == {"message", "type", "param", "code"}
    elif isinstance(outcome, list):
        assert outcome[-1] == "data: [DONE]\n\n"
    else:
        assert outcome["choices"][0]["message"]["content"] is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies)
def test_fuzzed_bodies_are_completions_or_4xx(body):
    check(asyncio.run(answer(encode(body))))


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.binary(max_size=64), json_values.map(encode)))
def test_fuzzed_bytes_are_completions_or_4xx(raw):
    check(asyncio.run(answer(raw)))
