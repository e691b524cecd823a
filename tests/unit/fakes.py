"""Scripted stand-ins for a Serve streaming handle to an LLMServer, for ChatFlow/TierClient tests."""

import asyncio
from types import SimpleNamespace
from typing import Any, Callable

from pydantic import BaseModel


class StreamOpts(BaseModel):
    include_usage: bool = False
    continuous_usage_stats: bool = False


class Req(BaseModel):
    """A minimal ChatCompletionRequest (typed like vLLM's): what the tier client sends."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: StreamOpts | None = None
    max_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None


class Resp(BaseModel):
    id: str = "chatcmpl-1"
    object: str = "chat.completion"
    created: int = 1
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, int]


def token_logprobs(probs: list[tuple[float, float]]) -> dict[str, Any]:
    """OpenAI logprobs for tokens whose top-1/top-2 probabilities are given."""
    import math

    return {
        "content": [
            {
                "token": f"t{i}",
                "logprob": math.log(p1),
                "top_logprobs": [
                    {"token": f"t{i}", "logprob": math.log(p1)},
                    {"token": "alt", "logprob": math.log(p2)},
                ],
            }
            for i, (p1, p2) in enumerate(probs)
        ]
    }


def scripted_answer(content: str, logprobs: dict | None = None, usage=(10, 5)) -> Callable[[Any], list[Any]]:
    """A handle script that answers `content` (optionally with logprobs)."""

    def script(request: Any) -> list[Any]:
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        if logprobs is not None and request.logprobs:
            choice["logprobs"] = logprobs
        return [
            Resp(
                model=request.model,
                choices=[choice],
                usage={"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
            )
        ]

    return script


def engine_error(code: int, message: str) -> Any:
    return SimpleNamespace(error=SimpleNamespace(code=code, message=message, type="BadRequestError"))


class ScriptedHandle:
    """`.chat.remote(request, raw)` yields the scripted items (or raises / sleeps)."""

    def __init__(
        self, items=None, raises: Exception | None = None, delay_s: float = 0.0, delay_after_first_s: float = 0.0
    ):
        self.items = items
        self.raises = raises
        self.delay_s = delay_s
        self.delay_after_first_s = delay_after_first_s
        self.requests: list[Any] = []
        self.cancelled = False
        self.chat = SimpleNamespace(remote=self._remote)

    def _remote(self, request: Any, raw: Any):
        self.requests.append(request)
        handle = self

        class Gen:
            def __init__(self):
                self._it = self._run()

            async def _run(self):
                await asyncio.sleep(handle.delay_s)
                if handle.raises is not None:
                    raise handle.raises
                items = handle.items(request) if callable(handle.items) else handle.items
                for i, item in enumerate(items):
                    if i == 1 and handle.delay_after_first_s:
                        await asyncio.sleep(handle.delay_after_first_s)
                    yield item

            def __aiter__(self):
                return self

            async def __anext__(self):
                return await self._it.__anext__()

            def cancel(self):
                handle.cancelled = True

        return Gen()


def echo_response(request: Any) -> list[Any]:
    text = request.messages[-1].get("content")  # an assistant message may have none
    return [
        Resp(
            model=request.model,
            choices=[
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": f"[{request.model}] {text}"},
                }
            ],
            usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        )
    ]


def sse(payload: str) -> str:
    return f"data: {payload}\n\n"


def echo_stream(request: Any) -> list[Any]:
    chunk = '{"id":"c","object":"chat.completion.chunk","model":"%s","choices":[{"index":0,"delta":{"content":"%s"}}]}'
    usage = (
        '{"id":"c","object":"chat.completion.chunk","model":"%s","choices":[],'
        '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}'
    )
    m = request.model
    # LLMServer batches SSE strings into lists.
    return [[sse(chunk % (m, "hel"))], [sse(chunk % (m, "lo")), sse(usage % m), "data: [DONE]\n\n"]]


class Clock:
    """A settable clock for breakers, buckets and readiness."""

    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now
