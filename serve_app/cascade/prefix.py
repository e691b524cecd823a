"""The streaming cascade's holding buffer and the stream the client then sees.

`hold_prefix` reads the small tier's first tokens (streamed with logprobs) without showing them, so
their confidence can be judged on a prefix; `client_stream` then renders a committed stream (held
chunks first, then the rest live) the way the client asked for it: logprobs kept, trimmed or
stripped, usage only on request, and the cascade's final verdict in the usage chunk's `tier_router`
field and in a trailing SSE comment (`: tier_router {...}`, ignored by SSE clients) before
`data: [DONE]`.

Pure logic over injected async iterators of SSE frames (as `TierClient.open_stream` yields them);
no Ray. The caller owns the iterators: `close_quietly` ends one so its engine stops generating.
"""

import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Optional

from serve_app import sse
from serve_app.errors import APIError
from serve_app.tier_client import frame_error

VERDICT_COMMENT = ": tier_router "
END = object()  # what `read` returns for `data: [DONE]`


def read(frame: str) -> Any:
    """A frame's JSON payload, END for `data: [DONE]`, or None for a comment or anything unparsable."""
    if sse.payload(frame) == sse.DONE:
        return END
    return sse.json_payload(frame)


def first_choice(chunk: dict[str, Any]) -> Optional[dict[str, Any]]:
    for choice in chunk.get("choices") or []:
        if choice.get("index", 0) == 0:
            return choice
    return None


@dataclass
class Prefix:
    """What was read from the small stream before the decision."""

    chunks: list[dict[str, Any]] = field(default_factory=list)  # held back, in order
    tokens: list[dict[str, Any]] = field(default_factory=list)  # logprob entries of choice 0
    count: int = 0  # tokens seen (a content chunk without logprobs counts one)
    missing_logprobs: bool = False  # some content came without logprobs: it cannot be judged
    finished: bool = False  # the answer ended inside the prefix: it is judged whole
    ended: bool = False  # the stream reached data: [DONE]
    usage: Optional[dict[str, Any]] = None  # latest usage the tier reported
    error: Optional[APIError] = None  # the tier failed while the prefix was read
    elapsed_s: float = 0.0

    def logprobs(self) -> Optional[dict[str, Any]]:
        """The held tokens as an OpenAI logprobs object, or None when any lacked logprobs (then the
        prefix cannot be judged: escalate)."""
        return None if self.missing_logprobs else {"content": self.tokens}

    def paid_usage(self) -> dict[str, int]:
        """Tokens paid so far: the tier's own count when it streamed one, else the tokens seen."""
        if self.usage:
            return {k: int(self.usage.get(k) or 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        return {"prompt_tokens": 0, "completion_tokens": self.count, "total_tokens": self.count}

    def add(self, chunk: dict[str, Any]) -> None:
        self.chunks.append(chunk)
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        choice = first_choice(chunk)
        if choice is None:
            return
        entries = (choice.get("logprobs") or {}).get("content") or []
        self.tokens.extend(entries)
        self.count += len(entries)
        if not entries and (choice.get("delta") or {}).get("content"):
            self.count += 1
            self.missing_logprobs = True
        if choice.get("finish_reason"):
            self.finished = True


async def hold_prefix(
    frames: AsyncIterator[str],
    tier: str,
    tokens: int,
    window_s: Optional[float] = None,
    clock: Callable[[], float] = time.monotonic,
) -> Prefix:
    """Read `frames` until `tokens` tokens are held, or `window_s` has passed since the call (checked
    as chunks arrive, once a token is held), or the answer ended (then read on to its usage and
    `[DONE]`), or the tier failed. The iterator is left open for the caller to continue or close."""
    held, start = Prefix(), clock()
    while True:
        try:
            frame = await frames.__anext__()
        except StopAsyncIteration:
            held.finished = held.ended = True
            break
        data = read(frame)
        if data is END:
            held.finished = held.ended = True
            break
        if not isinstance(data, dict):
            continue
        held.error = frame_error(tier, frame)
        if held.error is not None:
            break
        held.add(data)
        if held.finished:
            continue
        if held.count >= tokens or (window_s is not None and held.count and clock() - start >= window_s):
            break
    held.elapsed_s = clock() - start
    return held


async def close_quietly(frames: Optional[AsyncIterator[str]]) -> None:
    """End a stream early (its engine stops generating); never raises."""
    aclose = getattr(frames, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:  # already finished or failed: nothing left to stop
        pass


@dataclass
class ClientView:
    """What the client asked of its stream: the tiers may have been asked for more."""

    logprobs: bool = False
    top_logprobs: int = 0
    include_usage: bool = False
    continuous_usage: bool = False

    @classmethod
    def of(cls, body: dict[str, Any]) -> "ClientView":
        options = body.get("stream_options") or {}
        return cls(
            body.get("logprobs") is True,
            int(body.get("top_logprobs") or 0),
            bool(options.get("include_usage")),
            bool(options.get("include_usage") and options.get("continuous_usage_stats")),
        )

    def render(self, chunk: dict[str, Any], verdict: Callable[[], dict[str, Any]]) -> Optional[dict[str, Any]]:
        """The chunk as the client should see it, or None when it should not see it at all."""
        if chunk.get("choices") == [] and chunk.get("usage"):  # the final usage chunk
            return {**chunk, "tier_router": verdict()} if self.include_usage else None
        out = copy.deepcopy(chunk)
        if not self.continuous_usage:
            out.pop("usage", None)
        for choice in out.get("choices") or []:
            logprobs = choice.get("logprobs")
            if not self.logprobs:
                choice["logprobs"] = None
            elif isinstance(logprobs, dict):
                for token in logprobs.get("content") or []:
                    token["top_logprobs"] = (token.get("top_logprobs") or [])[: self.top_logprobs]
        return out


async def client_stream(
    held: list[dict[str, Any]],
    rest: Optional[AsyncIterator[str]],
    view: ClientView,
    verdict: Callable[[], dict[str, Any]],
    observe: Callable[[dict[str, Any]], None] = lambda chunk: None,
) -> AsyncIterator[str]:
    """The committed answer for the client: `held` chunks, then `rest` live; every chunk is shown to
    `observe` first (the late check). Ends with the verdict comment and `[DONE]`. Closing this
    stream (the client went away) closes `rest`, so the engine stops too."""
    try:
        for chunk in held:
            observe(chunk)
            out = view.render(chunk, verdict)
            if out is not None:
                yield sse.frame(out)
        async for frame in rest if rest is not None else _nothing():
            data = read(frame)
            if data is END:
                break
            if not isinstance(data, dict):
                continue
            if "error" in data:  # the tier failed mid-stream: the client gets the error event
                yield frame
                continue
            observe(data)
            out = view.render(data, verdict)
            if out is not None:
                yield sse.frame(out)
        yield f"{VERDICT_COMMENT}{json.dumps(verdict())}\n\n"
        yield sse.DONE_FRAME
    finally:
        await close_quietly(rest)


async def _nothing() -> AsyncIterator[str]:
    return
    yield  # pragma: no cover
