"""A bounded closed-loop HTTP load generator for loopback endpoints (no Ray).

`concurrency` workers send requests back to back until `max_requests` are sent or `max_duration_s`
has passed, whichever comes first; each request also has a timeout. Only loopback hosts are
accepted, so a benchmark can never load someone else's server.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional, Sequence
from urllib.parse import urlparse

from bench.stats import summarize
from serve_app import sse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIER_HEADER = "x-tier-router-tier"
ESCALATED_HEADER = "x-tier-router-escalated"


@dataclass
class Sample:
    """One request's outcome."""

    latency_s: float
    status: int
    ttft_s: Optional[float] = None
    tier: Optional[str] = None
    escalated: Optional[str] = None
    error: Optional[str] = None


@dataclass
class LoadResult:
    concurrency: int
    wall_s: float
    samples: list[Sample] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ok = [s for s in self.samples if s.error is None and s.status == 200]
        lat = summarize([s.latency_s * 1000 for s in ok])
        ttft = summarize([s.ttft_s * 1000 for s in ok if s.ttft_s is not None])
        tiers: dict[str, int] = {}
        for s in ok:
            tiers[s.tier or "none"] = tiers.get(s.tier or "none", 0) + 1
        cascaded = [s for s in ok if s.escalated in ("yes", "no")]
        return {
            "concurrency": self.concurrency,
            "requests": len(self.samples),
            "ok": len(ok),
            "errors": len(self.samples) - len(ok),
            "wall_s": self.wall_s,
            "req_per_s": len(ok) / self.wall_s if self.wall_s > 0 else float("nan"),
            "p50_ms": lat.p50,
            "p99_ms": lat.p99,
            "mean_ms": lat.mean,
            "ttft_p50_ms": ttft.p50,
            "ttft_p99_ms": ttft.p99,
            "tiers": tiers,
            "escalated": sum(s.escalated == "yes" for s in cascaded),
            "cascaded": len(cascaded),
            "escalation_rate": (sum(s.escalated == "yes" for s in cascaded) / len(cascaded)) if cascaded else 0.0,
        }


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise ValueError(f"load is only ever sent to loopback addresses, not {host!r}")


def _sample(start: float, resp: Any, ttft: Optional[float] = None) -> Sample:
    return Sample(
        time.perf_counter() - start,
        resp.status_code,
        ttft,
        resp.headers.get(TIER_HEADER),
        resp.headers.get(ESCALATED_HEADER),
        None if resp.status_code == 200 else f"HTTP {resp.status_code}",
    )


async def _one(client: Any, url: str, body: dict[str, Any], timeout_s: float) -> Sample:
    start = time.perf_counter()
    try:
        if body.get("stream"):
            return await _one_stream(client, url, body, timeout_s, start)
        resp = await client.post(url, json=body, timeout=timeout_s)
        await resp.aread()
        return _sample(start, resp)
    except Exception as exc:  # every failure is counted, never raised
        return Sample(time.perf_counter() - start, 0, error=type(exc).__name__)


async def _one_stream(client: Any, url: str, body: dict[str, Any], timeout_s: float, start: float) -> Sample:
    ttft = None
    async with client.stream("POST", url, json=body, timeout=timeout_s) as resp:
        async for line in resp.aiter_lines():
            if ttft is None and _has_content(line):
                ttft = time.perf_counter() - start
        return _sample(start, resp, ttft)


def _has_content(line: str) -> bool:
    """Whether an SSE line carries generated text (the first one marks the time to first token)."""
    chunk = sse.json_payload(line)
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    return any((c.get("delta") or {}).get("content") for c in choices or [])


async def timed(call: Callable[[], Awaitable[Any]]) -> Sample:
    """A non-HTTP call's outcome (a Serve handle call): status 200 when it returned, 0 and the
    exception's name when it raised; never raises."""
    start = time.perf_counter()
    try:
        await call()
        return Sample(time.perf_counter() - start, 200)
    except Exception as exc:
        return Sample(time.perf_counter() - start, 0, error=type(exc).__name__)


def _check_bounds(concurrency: int, max_requests: int, max_duration_s: float) -> None:
    if concurrency < 1 or max_requests < 1 or max_duration_s <= 0:
        raise ValueError("concurrency, max_requests and max_duration_s must be positive")


async def closed_loop(
    call: Callable[[int], Awaitable[Sample]], concurrency: int, max_requests: int, max_duration_s: float
) -> LoadResult:
    """`concurrency` workers await `call(i)` back to back for i = 0, 1, ... until `max_requests`
    calls have started or `max_duration_s` has passed."""
    _check_bounds(concurrency, max_requests, max_duration_s)
    counter = iter(range(max_requests))
    samples: list[Sample] = []
    start = time.perf_counter()
    deadline = start + max_duration_s

    async def worker() -> None:
        for i in counter:
            if time.perf_counter() >= deadline:
                return
            samples.append(await call(i))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(concurrency, time.perf_counter() - start, samples)


async def run_load(
    url: str,
    make_body: Callable[[int], dict[str, Any]],
    concurrency: int,
    max_requests: int,
    max_duration_s: float,
    timeout_s: float = 60.0,
    client: Any = None,
) -> LoadResult:
    """Closed loop of HTTP requests: `concurrency` workers, at most `max_requests` requests and
    `max_duration_s`."""
    check_loopback(url)
    _check_bounds(concurrency, max_requests, max_duration_s)
    import httpx

    own = client is None
    client = client or httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency + 4))
    try:
        return await closed_loop(
            lambda i: _one(client, url, make_body(i), timeout_s), concurrency, max_requests, max_duration_s
        )
    finally:
        if own:
            await client.aclose()


async def interleaved(
    run: Callable[[str, int, str], Awaitable[LoadResult]], names: Sequence[str], levels: Sequence[int], rounds: int
) -> dict[tuple[str, int], LoadResult]:
    """`run(name, level, tag)` for every name at every level, `rounds` times, the order of names
    rotated each round so machine drift hits all alike; the rounds' results merged per (name, level)."""
    merged: dict[tuple[str, int], LoadResult] = {}
    for rnd in range(rounds):
        for level in levels:
            shift = rnd % len(names)
            for name in [*names[shift:], *names[:shift]]:
                res = await run(name, level, f"r{rnd}c{level}")
                print(f"  round {rnd} c={level:3} {name:11} {res.summary()['p50_ms']:.2f} ms p50", flush=True)
                prev = merged.get((name, level))
                if prev is not None:
                    res = LoadResult(level, prev.wall_s + res.wall_s, prev.samples + res.samples)
                merged[(name, level)] = res
    return merged
