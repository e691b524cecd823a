"""The one SSE module: frames written and read the same way everywhere."""

from serve_app import sse


def test_frames_round_trip():
    frame = sse.frame({"choices": [], "usage": {"prompt_tokens": 3}})
    assert frame.startswith("data: {") and frame.endswith("\n\n")
    assert sse.json_payload(frame) == {"choices": [], "usage": {"prompt_tokens": 3}}
    assert sse.json_payload(sse.DONE_FRAME) is None and sse.payload(sse.DONE_FRAME) == sse.DONE
    assert sse.json_payload("data:{not json") is None and sse.payload("event: x") == ""


def test_split_frames_normalises_a_batch():
    text = 'data:{"a": 1}\n\n: comment\n\ndata:  [DONE]\n\n'
    assert sse.split_frames(text) == ['data: {"a": 1}\n\n', sse.DONE_FRAME]
