"""EchoEngine: a deterministic stand-in for vLLM, for fast graph tests and graph benchmarks only.

It answers `[<model>] <last user text>` and speaks the OpenAI shapes vLLM speaks (full responses,
SSE chunks, usage, logprobs, json_schema structured output, ErrorResponse). Test hooks in the prompt:
`__echo_fail__` raises inside the engine; `__echo_sleep_<seconds>__` delays the answer;
`__echo_conf_<0..1>__` sets the confidence its logprobs and self-assessment express (default 0.9);
judge requests are answered by `echo_judge.py` (its own hooks).
`TIER_ROUTER_ECHO_START_DELAY_S` (the replica's environment) makes its start take that long, as a
vLLM engine's does (fault tests: how the graph behaves while a tier replica restarts).
Prompts longer than `max_model_len` words get the same 400 vLLM gives. Never a default and never
what a model benchmark measures.
"""

import asyncio
import json
import math
import os
import re
import time
import uuid
from typing import Any, AsyncGenerator, Optional

from ray.llm._internal.serve.core.configs.openai_api_models import (
    ChatCompletionResponse,
    ErrorInfo,
    ErrorResponse,
)
from ray.llm._internal.serve.core.engine.protocol import LLMEngine

from serve_app import sse
from serve_app.graph.echo_judge import judge_answer
from serve_app.routing.text import ScoreText, select_text

SLEEP = re.compile(r"__echo_sleep_([0-9.]+)__")
CONFIDENCE = re.compile(r"__echo_conf_([0-9.]+)__")
DEFAULT_CONFIDENCE = 0.9
START_DELAY_ENV = "TIER_ROUTER_ECHO_START_DELAY_S"


class EchoEngine(LLMEngine):
    def __init__(self, llm_config: Any):
        self._config = llm_config
        self._max_len = int(llm_config.engine_kwargs.get("max_model_len", 4096))

    async def start(self) -> None:
        delay_s = float(os.environ.get(START_DELAY_ENV, "0") or 0)
        if delay_s > 0:
            await asyncio.sleep(delay_s)

    def routing_stats(self) -> dict:
        return {}

    async def resolve_lora(self, lora_model: Any) -> None:
        raise NotImplementedError("the echo engine has no LoRA support")

    async def check_health(self) -> None:
        return None

    async def chat(self, request: Any, raw_request_info: Optional[Any] = None) -> AsyncGenerator[Any, None]:
        messages = [m if isinstance(m, dict) else dict(m) for m in request.messages]
        text = select_text(messages, ScoreText.LAST_USER)
        if "__echo_fail__" in text:
            raise RuntimeError("echo engine: failure requested by the prompt")
        sleep = SLEEP.search(text)
        if sleep:
            await asyncio.sleep(float(sleep.group(1)))
        prompt_tokens = sum(len(select_text([m], ScoreText.CONVERSATION).split()) for m in messages)
        if prompt_tokens > self._max_len:
            yield ErrorResponse(
                error=ErrorInfo(
                    message=f"This model's maximum context length is {self._max_len} tokens. "
                    f"However, your request has {prompt_tokens} input tokens.",
                    type="BadRequestError",
                    code=400,
                )
            )
            return
        conf_match = CONFIDENCE.search(text)
        confidence = float(conf_match.group(1)) if conf_match else DEFAULT_CONFIDENCE
        answer = f"[{request.model}] {text}"
        if _wants_json(request):
            verdict = judge_answer(text, _schema(request))
            answer = verdict or json.dumps({"content": answer, "confidence": confidence})
        words = answer.split(" ")
        if request.max_tokens is not None:
            words = words[: request.max_tokens]
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        rid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if not request.stream:
            yield ChatCompletionResponse.model_validate(
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": request.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": " ".join(words)},
                            "finish_reason": "stop",
                            "logprobs": _logprobs(request, words, confidence),
                        }
                    ],
                    "usage": usage,
                }
            )
            return
        for chunk in _stream_chunks(rid, created, request, words, usage, _logprobs(request, words, confidence)):
            yield chunk

    async def completions(self, request: Any, raw_request_info: Optional[Any] = None):
        raise NotImplementedError("the echo engine serves chat completions only")
        yield  # pragma: no cover

    async def embeddings(self, request: Any, raw_request_info: Optional[Any] = None):
        raise NotImplementedError("the echo engine serves chat completions only")
        yield  # pragma: no cover

    async def transcriptions(self, request: Any, raw_request_info: Optional[Any] = None):
        raise NotImplementedError("the echo engine serves chat completions only")
        yield  # pragma: no cover

    async def reset_prefix_cache(self) -> None:
        return None


def _wants_json(request: Any) -> bool:
    fmt = request.response_format
    return fmt is not None and getattr(fmt, "type", None) == "json_schema"


def _schema(request: Any) -> Optional[dict]:
    return getattr(request.response_format.json_schema, "json_schema", None)


def _logprobs(request: Any, words: list[str], confidence: float) -> Optional[dict]:
    """Logprobs whose mean probability and top-1/top-2 margin both equal `confidence`."""
    if not request.logprobs:
        return None
    lp, alt = math.log(max(confidence, 1e-9)), math.log(1e-9)
    top = int(request.top_logprobs or 0)

    def alternatives(word: str) -> list[dict]:
        return [{"token": word, "logprob": lp, "bytes": None}, {"token": "<alt>", "logprob": alt, "bytes": None}][:top]

    return {"content": [{"token": w, "logprob": lp, "bytes": None, "top_logprobs": alternatives(w)} for w in words]}


def _stream_chunks(
    rid: str, created: int, request: Any, words: list[str], usage: dict, logprobs: Optional[dict]
) -> list[str]:
    """One chunk per word (with its logprobs when asked, and running usage when asked)."""
    options = request.stream_options
    include_usage = options is not None and getattr(options, "include_usage", False)
    continuous = include_usage and getattr(options, "continuous_usage_stats", False)

    def chunk(delta: dict, finish: Optional[str] = None, n: int = 0, token: Optional[dict] = None) -> str:
        body = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": finish,
                    "logprobs": {"content": [token]} if token else None,
                }
            ],
        }
        if continuous:
            body["usage"] = {
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": n,
                "total_tokens": usage["prompt_tokens"] + n,
            }
        return sse.frame(body)

    tokens = (logprobs or {}).get("content") or [None] * len(words)
    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": (" " if i else "") + w}, n=i + 1, token=tokens[i]) for i, w in enumerate(words)]
    out.append(chunk({}, "stop", n=len(words)))
    if include_usage:
        body = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": request.model,
            "choices": [],
            "usage": usage,
        }
        out.append(sse.frame(body))
    out.append(sse.DONE_FRAME)
    return out
