"""TierClient: calls one model tier through a streaming handle and normalises what comes back.

The handle is anything with `.chat.remote(request, raw_request_info)` returning an async
generator, as a Ray Serve `DeploymentHandle.options(stream=True)` to an `LLMServer` does: it yields
one response object (non-streaming), or lists of SSE strings (streaming), or an ErrorResponse.
Every failure leaves here as an `APIError`; nothing waits longer than the configured timeouts.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Optional

from serve_app import sse
from serve_app.circuit import CircuitBreaker
from serve_app.errors import APIError, from_engine_error, tier_unavailable
from serve_app.request_deadline import RequestDeadlineReached, current_deadline
from serve_app.sse import DONE_FRAME

logger = logging.getLogger(__name__)


@dataclass
class StreamOptions:
    """What the client asked of a stream; the tier is always asked for usage, which is handed to
    `on_usage` (accounting) whether or not the client gets it."""

    include_usage: bool = False
    on_usage: Optional[Callable[[dict[str, Any]], None]] = None


def with_tier_usage(body: dict[str, Any]) -> dict[str, Any]:
    """The body with usage requested from the tier, whatever the client asked."""
    return {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}


def _as_error(tier: str, item: Any) -> Optional[APIError]:
    """The APIError an engine ErrorResponse stands for, or None for a normal item."""
    error = getattr(item, "error", None)
    if error is not None and hasattr(error, "code") and hasattr(error, "message"):
        return from_engine_error(tier, int(error.code), str(error.message), str(getattr(error, "type", "")))
    return None


def _frames(item: Any) -> list[str]:
    """SSE frames in one streamed item (LLMServer batches them into lists)."""
    items = item if isinstance(item, list) else [item]
    frames: list[str] = []
    for piece in items:
        if isinstance(piece, str):
            frames.extend(sse.split_frames(piece))
        else:
            frames.append(sse.frame(piece.model_dump(exclude_none=True)))
    return frames


def _usage_only(frame: str) -> Optional[dict[str, Any]]:
    """The usage of the final usage chunk (`choices: []`, sent by OpenAI only on request), or None
    for any other frame."""
    if '"choices":[]' not in sse.payload(frame).replace(" ", ""):
        return None
    data = sse.json_payload(frame)
    return data.get("usage") if isinstance(data, dict) and data.get("choices") == [] else None


def frame_error(tier: str, frame: str) -> Optional[APIError]:
    """The error an SSE frame carries instead of a chunk (vLLM streams errors this way), or None."""
    payload = sse.payload(frame)
    if not payload.startswith("{") or '"error"' not in payload:
        return None
    data = sse.json_payload(frame)
    if not isinstance(data, dict):
        return None
    error = (
        data.get("error") if isinstance(data.get("error"), dict) else (data if data.get("object") == "error" else None)
    )
    if error is None:
        return None
    code = error.get("code")
    status = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else 500
    return from_engine_error(tier, status, str(error.get("message", "")), str(error.get("type") or ""))


def _error_frame(error: APIError) -> str:
    return sse.frame(error.body())


class TierClient:
    """One tier as the ingress sees it.

    Deadlines: `assign_timeout_s` for a replica to take the request (Serve queues requests for a
    deployment with no running replica until one starts: minutes for a vLLM tier), then
    `request_timeout_s` for the whole answer or first stream chunk, cut short (see
    serve_app/request_deadline.py) when the request's deadline would cancel the wait first. Failures
    (5xx, replica died, no answer in time) feed the tier's circuit breaker; back-pressure (queue
    full) and no replica free in time are busy, not down: a 503 with Retry-After that leaves the
    breaker alone. No answer before the request deadline counts as a failure only when no request
    to the tier succeeded since the wait began (liveness): a non-streamed first item is the whole
    answer, so a live tier that is slow on a long answer is busy, not down.
    """

    def __init__(
        self,
        name: str,
        handle: Any,
        request_timeout_s: float,
        stream_idle_timeout_s: float,
        assign_timeout_s: Optional[float] = None,
        breaker: Optional[CircuitBreaker] = None,
    ):
        self.name = name
        self._handle = handle
        self._request_timeout_s = request_timeout_s
        self._stream_idle_timeout_s = stream_idle_timeout_s
        self._assign_timeout_s = assign_timeout_s
        self.breaker = breaker if breaker is not None else CircuitBreaker()

    def _call(self, request: Any) -> Any:
        return self._handle.chat.remote(request.model_copy(update={"model": self.name}), None)

    def _failed(self, error: APIError) -> APIError:
        if error.status >= 500:
            self.breaker.record_failure()
        else:
            self.breaker.release_probe()
        return error

    async def _assigned(self, gen: Any) -> None:
        """Wait (at most `assign_timeout_s`) until a replica took the request. Only Serve's response
        generators expose this; other handles skip the wait."""
        wait = getattr(gen, "_fetch_future_result_async", None)
        if wait is None or self._assign_timeout_s is None:
            return
        try:
            await asyncio.wait_for(wait(), self._assign_timeout_s)
        except asyncio.TimeoutError:
            # Busy or down: every replica is full, or none is running. Not counted as a failure
            # (busy is not down); a tier with no running replica is opened by readiness instead.
            _cancel(gen)
            self.breaker.release_probe()
            raise tier_unavailable(
                self.name, f"no replica took the request within {self._assign_timeout_s:g}s", self.breaker.open_s
            ) from None
        except Exception as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> APIError:
        if _is_backpressure(exc):
            self.breaker.release_probe()
            return tier_unavailable(self.name, "too many requests queued", getattr(exc, "retry_after_s", None) or 1.0)
        logger.warning("tier %s failed: %s", self.name, type(exc).__name__)  # never the message: it may echo the prompt
        return self._failed(tier_unavailable(self.name, type(exc).__name__, self.breaker.open_s))

    async def _next(self, gen: Any, timeout_s: float, waiting_since: Optional[float] = None) -> Any:
        """The next item within `timeout_s`; `waiting_since` (breaker clock) marks a wait cut by the
        request deadline, begun then."""
        try:
            return await asyncio.wait_for(gen.__anext__(), timeout_s)
        except StopAsyncIteration:
            raise
        except asyncio.TimeoutError:
            _cancel(gen)
            if waiting_since is not None:
                raise self._deadline_reached(timeout_s, waiting_since) from None
            raise self._failed(tier_unavailable(self.name, f"no answer within {timeout_s:g}s")) from None
        except asyncio.CancelledError:  # the request's deadline, or the client went away
            _cancel(gen)
            self.breaker.release_probe()
            raise
        except APIError:
            raise
        except Exception as exc:  # replica died, deployment missing, engine crashed, ...
            raise self._unavailable(exc) from None

    def _deadline_reached(self, waited_s: float, since: float) -> RequestDeadlineReached:
        """No answer until (just before) the request deadline: a failure of this tier if it hung (no
        request to it succeeded since `since`), else a live tier slow on this request (not blamed)."""
        hung = not self.breaker.succeeded_since(since)
        if hung:
            self.breaker.record_failure()
        else:
            self.breaker.release_probe()
        logger.warning(
            "tier %s: no answer within %.3gs, before the request deadline; %s",
            self.name,
            waited_s,
            "counted as a failure" if hung else "not counted: another request to it succeeded meanwhile",
        )
        return RequestDeadlineReached(
            self.name, f"The {self.name} tier gave no answer within {waited_s:.3g}s (request deadline)"
        )

    async def _first_item(self, gen: Any) -> Any:
        """The first item, waited for `request_timeout_s` or until just before the request deadline."""
        deadline, now = current_deadline(), asyncio.get_running_loop().time()
        cut_s = deadline.cut_wait_s(self._request_timeout_s, now) if deadline is not None else None
        if cut_s is None:
            return await self._next(gen, self._request_timeout_s)
        return await self._next(gen, cut_s, waiting_since=self.breaker.clock())

    async def _first(self, request: Any, empty: str) -> tuple[Any, Any]:
        """(the response generator, its first item), or the APIError it stands for."""
        if not self.breaker.allow():
            raise tier_unavailable(
                self.name, "failing, not taking requests for now", max(1.0, self.breaker.retry_after_s())
            )
        gen = self._call(request)
        try:
            await self._assigned(gen)
            first = await self._first_item(gen)
        except StopAsyncIteration:
            raise self._failed(tier_unavailable(self.name, empty)) from None
        except asyncio.CancelledError:
            _cancel(gen)
            self.breaker.release_probe()
            raise
        error = _as_error(self.name, first)
        if error is not None:
            raise self._failed(error)
        return gen, first

    async def complete(self, request: Any) -> dict[str, Any]:
        """A non-streaming chat completion as a JSON-ready dict."""
        _, item = await self._first(request, "empty response")
        self.breaker.record_success()
        return item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else dict(item)

    async def open_stream(self, request: Any, options: StreamOptions) -> AsyncIterator[str]:
        """Start a stream; errors before the first chunk raise here, later ones become an SSE
        error event. The returned iterator yields SSE frames ending with `data: [DONE]`.
        The request should ask the tier for usage (see `with_tier_usage`); `options` says whether
        the client asked for it too."""
        gen, first = await self._first(request, "empty stream")
        first_frames = _frames(first)
        for frame in first_frames[:1]:
            error = frame_error(self.name, frame)
            if error is not None:
                _cancel(gen)
                raise self._failed(error)
        self.breaker.record_success()
        return self._relay(gen, first_frames, options)

    async def _relay(self, gen: Any, first_frames: list[str], options: StreamOptions) -> AsyncIterator[str]:
        pending = list(first_frames)
        finished = False
        try:
            while True:
                for frame in pending:
                    if frame == DONE_FRAME:
                        continue
                    usage = _usage_only(frame)
                    if usage is not None:
                        if options.on_usage is not None:
                            options.on_usage(usage)
                        if not options.include_usage:
                            continue
                    yield frame
                try:
                    item = await self._next(gen, self._stream_idle_timeout_s)
                except StopAsyncIteration:
                    break
                error = _as_error(self.name, item)
                pending = [_error_frame(error)] if error is not None else _frames(item)
            finished = True
            yield DONE_FRAME
        except APIError as exc:
            finished = True
            yield _error_frame(exc)
            yield DONE_FRAME
        finally:
            if not finished:  # the client went away mid-stream: stop the engine's work too
                _cancel(gen)


def _is_backpressure(exc: BaseException) -> bool:
    """Serve's BackPressureError (queue full), recognised without importing Ray."""
    return any(cls.__name__ == "BackPressureError" for cls in type(exc).__mro__)


def _cancel(gen: Any) -> None:
    cancel = getattr(gen, "cancel", None)
    if callable(cancel):
        try:
            cancel()
        except Exception:  # already finished
            pass
