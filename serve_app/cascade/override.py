"""Per-request cascade knobs: the `tier_router` extension field of a chat request.

    {"model": "auto", "messages": [...], "tier_router": {"cascade": {"threshold": 0.9}}}

With the openai client: `extra_body={"tier_router": {"cascade": {"method": "self_assessment"}}}`.
"""

from typing import Any, Literal, Optional

from pydantic import Field, ValidationError

from serve_app.cascade.policy import CascadeMethod, CascadePolicy
from serve_app.errors import bad_request
from serve_app.strict_model import StrictModel

EXTENSION_FIELD = "tier_router"


class CascadeOverride(StrictModel):
    """What one request may change of the cascade policy."""

    enabled: Optional[bool] = Field(None, description="false: no escalation for this request.")
    method: Optional[CascadeMethod] = Field(None, description="Confidence method.")
    threshold: Optional[float] = Field(None, ge=0.0, description="Escalate below this confidence.")
    streaming: Optional[Literal["prefix", "buffered"]] = Field(
        None, description="Streamed requests: judge a prefix and stream live, or judge the whole answer first."
    )
    prefix_tokens: Optional[int] = Field(None, ge=1, le=4096, description="Tokens judged before commit or abort.")


class RequestExtension(StrictModel):
    cascade: CascadeOverride = Field(default_factory=CascadeOverride, description="Cascade overrides.")


def pop_extension(body: dict[str, Any]) -> RequestExtension:
    """Remove and validate the extension field (engines never see it); 400 when malformed."""
    raw = body.pop(EXTENSION_FIELD, None)
    if raw is None:
        return RequestExtension()
    try:
        return RequestExtension.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise bad_request(f"Invalid {EXTENSION_FIELD}.{loc}: {first['msg']}", f"{EXTENSION_FIELD}.{loc}") from None


def effective_policy(policy: CascadePolicy, override: CascadeOverride) -> tuple[CascadePolicy, bool]:
    """(policy with the request's overrides applied, whether the cascade is on for this request)."""
    updates = {
        k: v for k in ("method", "threshold", "streaming", "prefix_tokens") if (v := getattr(override, k)) is not None
    }
    merged = policy.model_copy(update=updates)
    enabled = policy.mode != "route_only" if override.enabled is None else override.enabled
    return merged, enabled
