"""Optional API keys for the ingress (`Authorization: Bearer KEY`) and per-key rate limits.

Keys never live in the serve config: the config names an environment variable and/or a file
(one key per line, `#` comments) that the ingress replica reads at start. Only SHA-256 digests
are kept in memory; a key is identified by the first 8 hex digits of its digest (its key id): the
key of its rate-limit bucket, and named in the ingress's log line for a request that failed with a 500.
"""

import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import Callable, Mapping, Optional

from pydantic import Field

from serve_app.errors import APIError, retry_after
from serve_app.rate_limit import RateLimiter
from serve_app.strict_model import StrictModel

DEFAULT_KEYS_ENV = "TIER_ROUTER_API_KEYS"


class RateLimitConfig(StrictModel):
    """Per-key request rate (token bucket); applies only when API keys are on."""

    requests_per_s: float = Field(0.0, ge=0.0, description="Average requests per second per key; 0 = no limit.")
    burst: int = Field(20, ge=1, description="Requests a key may send at once before the average applies.")


class AuthConfig(StrictModel):
    """Where the ingress finds its API keys. With none found, the API is open (local use)."""

    keys_env: str = Field(
        DEFAULT_KEYS_ENV,
        min_length=1,
        description="Environment variable of the ingress replica holding comma-separated keys.",
    )
    keys_file: Optional[str] = Field(None, description="File with one key per line (e.g. a mounted secret).")
    required: bool = Field(
        False,
        description="Refuse to start when no key is found (profiles that listen off "
        "loopback set this, so HTTP is never exposed without keys).",
    )
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig, description="Per-key rate limit.")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def load_keys(cfg: AuthConfig, environ: Mapping[str, str] = os.environ) -> list[str]:
    """The configured keys (env var first, then file); ValueError when `required` and none."""
    keys = [k.strip() for k in environ.get(cfg.keys_env, "").split(",") if k.strip()]
    if cfg.keys_file:
        lines = Path(cfg.keys_file).expanduser().read_text().splitlines()
        keys += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if cfg.required and not keys:
        raise ValueError(
            f"ingress.auth.required is set but no API key was found in ${cfg.keys_env}"
            f"{' or ' + cfg.keys_file if cfg.keys_file else ''}"
        )
    return keys


class Authenticator:
    """Checks `Authorization` headers against the keys; rate-limits per key."""

    def __init__(self, keys: list[str], rate_limit: RateLimitConfig, clock: Callable[[], float] = time.monotonic):
        self._digests = [_digest(k) for k in keys]
        self._limiter = (
            RateLimiter(rate_limit.requests_per_s, rate_limit.burst, clock) if rate_limit.requests_per_s > 0 else None
        )

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def check(self, authorization: Optional[str]) -> Optional[str]:
        """The caller's key id (None when auth is off); raises a 401 or 429 APIError."""
        if not self.enabled:
            return None
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise unauthorized("Missing API key: send 'Authorization: Bearer YOUR_KEY'.")
        digest = _digest(key.strip())
        if not any(hmac.compare_digest(digest, d) for d in self._digests):
            raise unauthorized("Incorrect API key provided.")
        key_id = digest[:8]
        wait_s = self._limiter.take(key_id) if self._limiter is not None else None
        if wait_s is not None:
            raise APIError(
                429,
                f"Rate limit reached for this key; retry after {wait_s:.1f}s.",
                "requests",
                None,
                "rate_limit_exceeded",
                retry_after(wait_s),
            )
        return key_id


def unauthorized(message: str) -> APIError:
    return APIError(401, message, "invalid_request_error", None, "invalid_api_key", {"www-authenticate": "Bearer"})
