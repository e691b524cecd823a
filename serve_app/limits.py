"""Bounded work per request: `ingress.limits`.

Every default is chosen for a reason stated in its description (and in the README), so an
operator knows what changing it trades.
"""

from typing import Any

from pydantic import Field, model_validator

from serve_app.errors import APIError, bad_request
from serve_app.strict_model import StrictModel


class LimitsConfig(StrictModel):
    """Caps applied to every chat request before any tier sees it."""

    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body (413 above). 1 MiB: a 128k-token context is ~0.5 MB of text, "
        "so no valid request for the shipped models is larger.",
    )
    max_prompt_chars: int = Field(
        400_000,
        ge=1,
        description="Most characters of message text in one request (400 above). ~100k tokens: above "
        "every shipped context window, so only requests the engine would reject anyway are "
        "refused, without tokenising megabytes first.",
    )
    body_read_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Longest wait for the whole body once headers arrived (408 after). A 1 MiB body "
        "takes ~8 s at 1 Mbit/s; a body shorter than its Content-Length is dropped then.",
    )
    max_json_depth: int = Field(
        64,
        ge=4,
        description="Deepest JSON nesting (400 deeper). Tool and response_format JSON schemas nest "
        "~10-20 levels; 64 leaves room and stays far below Python's recursion limit.",
    )
    default_max_tokens: int = Field(
        512,
        ge=1,
        description="max_tokens when the client sends none (or null). The CPU default generates ~11 "
        "tokens/s per request (BENCHMARKS.md load table, concurrency 1: 32 tokens in p50 2.9 s), so 512 "
        "tokens finish in ~47 s, inside request_timeout_s (120).",
    )
    max_tokens_cap: int = Field(
        2048,
        ge=1,
        description="Largest max_tokens / max_completion_tokens accepted (400 above): the CPU "
        "default's context window (max_model_len 2048). Raise it with the model's window.",
    )
    max_n: int = Field(
        8,
        ge=1,
        description="Largest n (choices per request; 400 above). Each choice is a full generation, "
        "so n multiplies work; 8 is what chat clients use in practice (OpenAI allows 128).",
    )

    max_in_flight: int = Field(
        224,
        ge=1,
        description="Most chat requests one ingress replica works on at once (streams until their last "
        "chunk); more are answered at once with a JSON 503 + Retry-After. Must stay below the ingress's "
        "max_ongoing_requests (256): the 32 slots between let Serve's proxy keep handing requests to the "
        "replica, which answers the excess in about a millisecond, instead of queueing them and, once "
        "max_queued_requests are waiting, answering with its own plain-text 503; /health and /v1/models "
        "use them too. Lower it with max_ongoing_requests.",
    )

    @model_validator(mode="after")
    def _default_within_cap(self) -> "LimitsConfig":
        if self.default_max_tokens > self.max_tokens_cap:
            raise ValueError("default_max_tokens must not exceed max_tokens_cap")
        return self


TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


def prompt_chars(messages: list[dict[str, Any]]) -> int:
    """Characters of text in the messages (string contents and text parts)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
        elif isinstance(content, list):
            total += sum(len(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return total


def apply_limits(body: dict[str, Any], limits: LimitsConfig) -> dict[str, Any]:
    """`body` with the default max_tokens filled in, or a 400 naming the cap it exceeds.
    Call after `validate_chat_body` (types are checked there)."""
    for key in TOKEN_FIELDS:
        value = body.get(key)
        if value is not None and value > limits.max_tokens_cap:
            raise bad_request(f"'{key}' must be at most {limits.max_tokens_cap}.", key)
    n = body.get("n")
    if n is not None and n > limits.max_n:
        raise bad_request(f"'n' must be at most {limits.max_n}.", "n")
    chars = prompt_chars(body["messages"])
    if chars > limits.max_prompt_chars:
        raise bad_request(
            f"The messages hold {chars} characters of text; at most {limits.max_prompt_chars} are accepted.", "messages"
        )
    if all(body.get(key) is None for key in TOKEN_FIELDS):
        body = {**body, "max_tokens": limits.default_max_tokens}
        body.pop("max_completion_tokens", None)
    return body


def payload_too_large(limit: int) -> APIError:
    return APIError(
        413, f"Request body is larger than {limit} bytes.", "invalid_request_error", None, "payload_too_large"
    )


def body_timeout(timeout_s: float) -> APIError:
    return APIError(
        408, f"The request body did not arrive within {timeout_s:g}s.", "invalid_request_error", None, "request_timeout"
    )
