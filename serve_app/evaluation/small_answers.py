"""Collect a small tier's answers to labelled prompts from any OpenAI-compatible endpoint.

Per prompt, up to three call kinds (each one chat completion, the prompt as the user message):
- `answer`: greedy (temperature 0), with token logprobs: the answer a client gets, graded, and
  the source of every logprob signal;
- `sample`: one sampled answer (temperature 1, seeded per prompt, with logprobs): for two-sample
  agreement, and the signals as a client that samples (vLLM's default temperature) would see them;
- `self_assessment`: the serving cascade's self-assessment request (instruction + JSON schema),
  graded on its own `content`, since that is what this method would return.

Bounded (concurrency, per-call timeout, max prompts), cached (`AnswerCache`) and so resumable.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

from serve_app.cascade.confidence import self_assessment_request
from serve_app.cascade.policy import DEFAULT_SELF_ASSESSMENT_PROMPT
from serve_app.evaluation.answer_cache import AnswerCache, cache_key

CALL_KINDS = ("answer", "sample", "self_assessment")


@dataclass(frozen=True)
class CallSettings:
    """How the small tier is called."""

    url: str = "http://127.0.0.1:8000/v1"
    model: str = "small"
    max_tokens: int = 32
    top_logprobs: int = 5
    concurrency: int = 8
    timeout_s: float = 300.0
    kinds: tuple[str, ...] = CALL_KINDS
    self_assessment_prompt: str = DEFAULT_SELF_ASSESSMENT_PROMPT


def _seed(prompt: str) -> int:
    return int(hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:8], 16)


def request_body(kind: str, prompt: str, settings: CallSettings) -> dict[str, Any]:
    """The chat completion body of one call kind (without `model`, which the key carries)."""
    base = {"messages": [{"role": "user", "content": prompt}], "max_tokens": settings.max_tokens}
    if kind == "answer":
        return {**base, "temperature": 0.0, "logprobs": True, "top_logprobs": settings.top_logprobs}
    if kind == "sample":
        return {
            **base,
            "temperature": 1.0,
            "seed": _seed(prompt),
            "logprobs": True,
            "top_logprobs": settings.top_logprobs,
        }
    if kind == "self_assessment":
        body = self_assessment_request({**base, "temperature": 0.0}, settings.self_assessment_prompt)
        body.pop("stream", None)
        return body
    raise ValueError(f"unknown call kind {kind!r}; known: {', '.join(CALL_KINDS)}")


def slim(response: dict[str, Any]) -> dict[str, Any]:
    """What is kept of a response: first choice's text, finish reason and logprobs, and usage."""
    choice = (response.get("choices") or [{}])[0]
    return {
        "content": (choice.get("message") or {}).get("content"),
        "finish_reason": choice.get("finish_reason"),
        "logprobs": choice.get("logprobs"),
        "usage": response.get("usage"),
    }


@dataclass
class Job:
    item_id: str
    kind: str
    key: str
    body: dict[str, Any]


def plan(items: list[tuple[str, str]], settings: CallSettings, cache: AnswerCache) -> tuple[list[Job], int]:
    """(calls still to make, calls already cached) for `items` = [(id, prompt)]."""
    todo, cached = [], 0
    for item_id, prompt in items:
        for kind in settings.kinds:
            body = request_body(kind, prompt, settings)
            key = cache_key(settings.url, settings.model, kind, body)
            if key in cache:
                cached += 1
            else:
                todo.append(Job(item_id, kind, key, body))
    return todo, cached


async def _run_job(client: Any, job: Job, settings: CallSettings, cache: AnswerCache) -> Optional[str]:
    """One call; its slim response goes to the cache. Returns an error message, or None."""
    try:
        response = await client.post(
            f"{settings.url.rstrip('/')}/chat/completions",
            json={**job.body, "model": settings.model},
            timeout=settings.timeout_s,
        )
    except Exception as exc:  # timeouts, refused connections: reported, retried on the next run
        return f"{job.kind} {job.item_id}: {type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"{job.kind} {job.item_id}: HTTP {response.status_code}: {response.text[:200]}"
    cache.put(job.key, job.kind, job.item_id, slim(response.json()))
    return None


async def collect(
    items: list[tuple[str, str]],
    settings: CallSettings,
    cache: AnswerCache,
    progress: Optional[Callable[[int], Any]] = None,
    client: Any = None,
) -> list[str]:
    """Make every uncached call for `items`, at most `settings.concurrency` at once. Returns the
    error messages of failed calls (not cached, so a rerun retries them)."""
    import httpx

    todo, _ = plan(items, settings, cache)
    own = client is None
    client = client or httpx.AsyncClient(timeout=settings.timeout_s)
    gate = asyncio.Semaphore(settings.concurrency)
    errors: list[str] = []

    async def bounded(job: Job) -> None:
        async with gate:
            error = await _run_job(client, job, settings, cache)
        if error:
            errors.append(error)
        if progress:
            progress(1)

    try:
        await asyncio.gather(*(bounded(job) for job in todo))
    finally:
        if own:
            await client.aclose()
    return errors


def cached_answers(
    items: list[tuple[str, str]], settings: CallSettings, cache: AnswerCache
) -> dict[str, dict[str, dict[str, Any]]]:
    """{id: {kind: slim response}} for every cached call of `items`."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item_id, prompt in items:
        for kind in settings.kinds:
            response = cache.get(cache_key(settings.url, settings.model, kind, request_body(kind, prompt, settings)))
            if response is not None:
                out.setdefault(item_id, {})[kind] = response
    return out
