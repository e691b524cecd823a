"""Replay a finished chat completion as OpenAI SSE chunks (for confident small answers that were
judged before the client saw a byte)."""

import re
from typing import Any, AsyncIterator

from serve_app import sse

WORDS_PER_CHUNK = 8


def _chunk(response: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> str:
    body = {
        "id": response.get("id", ""),
        "object": "chat.completion.chunk",
        "created": response.get("created", 0),
        "model": response.get("model", ""),
        "choices": choices,
        **extra,
    }
    return sse.frame(body)


def replay_frames(response: dict[str, Any], include_usage: bool) -> list[str]:
    """SSE frames equivalent to streaming `response`, ending with `data: [DONE]`."""
    frames = []
    for choice in response.get("choices", []):
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        frames.append(
            _chunk(response, [{"index": index, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        )
        pieces = re.findall(r"\S+\s*|\s+", message.get("content") or "")
        deltas = [
            {
                "index": index,
                "delta": {"content": "".join(pieces[start : start + WORDS_PER_CHUNK])},
                "finish_reason": None,
            }
            for start in range(0, len(pieces), WORDS_PER_CHUNK)
        ]
        if choice.get("logprobs") and deltas:
            # Chunks are word groups, not tokens: every token's logprobs ride on the last content
            # chunk, so a client that concatenates chunk logprobs gets the answer's whole list.
            deltas[-1]["logprobs"] = choice["logprobs"]
        frames.extend(_chunk(response, [delta]) for delta in deltas)
        frames.append(
            _chunk(response, [{"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}])
        )
    if include_usage and response.get("usage"):
        frames.append(_chunk(response, [], usage=response["usage"]))
    frames.append(sse.DONE_FRAME)
    return frames


async def replay(response: dict[str, Any], include_usage: bool) -> AsyncIterator[str]:
    for frame in replay_frames(response, include_usage):
        yield frame
