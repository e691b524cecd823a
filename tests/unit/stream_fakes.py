"""Scripted token streams shaped like vLLM's chat SSE (per-token chunks, logprobs, running usage),
for the streaming cascade's tests."""

import json
import math
from typing import Any, Optional

from tests.unit.fakes import Resp, sse

SURE_TOKEN = (0.99, 0.005)
UNSURE_TOKEN = (0.3, 0.25)


class TokenStream:
    """A handle script: streams `tokens` one chunk each, with logprobs when asked, and counts the
    tokens the "engine" produced (to show an aborted stream stops early). `fail_at` raises inside
    the engine before that token; `probs` is one (p_top1, p_top2) for all tokens or one per token."""

    def __init__(
        self, tokens: list[str], probs: Any = SURE_TOKEN, prompt_tokens: int = 10, fail_at: Optional[int] = None
    ):
        self.tokens = tokens
        self.probs = probs if isinstance(probs, list) else [probs] * len(tokens)
        self.prompt_tokens = prompt_tokens
        self.fail_at = fail_at
        self.produced = 0

    def __call__(self, request: Any):
        return self._items(request) if request.stream else [self._whole(request)]

    def _whole(self, request: Any) -> Resp:
        """The non-streamed answer (what the buffered cascade asks for)."""
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "".join(self.tokens)},
        }
        if request.logprobs:
            choice["logprobs"] = {
                "content": [self._logprobs(request, i)["content"][0] for i in range(len(self.tokens))]
            }
        self.produced = len(self.tokens)
        return Resp(model=request.model, choices=[choice], usage=self._usage(len(self.tokens)))

    def _chunk(self, request: Any, choice: dict, completion: int) -> list[str]:
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": request.model, "choices": [choice]}
        options = request.stream_options
        if options is not None and options.include_usage and options.continuous_usage_stats:
            body["usage"] = self._usage(completion)
        return [sse(json.dumps(body))]

    def _usage(self, completion: int) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def _logprobs(self, request: Any, i: int) -> Optional[dict]:
        if not request.logprobs:
            return None
        p1, p2 = self.probs[i]
        top = [{"token": self.tokens[i], "logprob": math.log(p1)}, {"token": "alt", "logprob": math.log(p2)}]
        return {
            "content": [
                {"token": self.tokens[i], "logprob": math.log(p1), "top_logprobs": top[: request.top_logprobs or 0]}
            ]
        }

    def _items(self, request: Any):
        yield self._chunk(
            request,
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None},
            0,
        )
        for i, token in enumerate(self.tokens):
            if i == self.fail_at:
                raise RuntimeError("engine died")
            self.produced += 1
            yield self._chunk(
                request,
                {
                    "index": 0,
                    "delta": {"content": token},
                    "logprobs": self._logprobs(request, i),
                    "finish_reason": None,
                },
                i + 1,
            )
        yield self._chunk(
            request, {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}, len(self.tokens)
        )
        if request.stream_options is not None and request.stream_options.include_usage:
            body = {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": request.model,
                "choices": [],
                "usage": self._usage(len(self.tokens)),
            }
            yield [sse(json.dumps(body))]
        yield ["data: [DONE]\n\n"]


def words(n: int, tag: str = "w") -> list[str]:
    return [f"{tag}{i} " for i in range(n)]
