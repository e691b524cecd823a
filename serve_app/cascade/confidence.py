"""Small-tier requests of the cascade's confidence methods and parsing of self-assessments (the
logprob signals are in `signals.py`). A value that cannot be computed is None, and None always
means "escalate" (never read a missing value as confident)."""

import json
import math
from typing import Any, Optional

from serve_app.cascade.signals import blended as logprob_confidence  # noqa: F401  (the `logprobs` method)

# `confidence` comes first, so an answer cut off by max_tokens still carries it, and it is one of
# eleven values: a free number lets small models spend the whole budget on "0.99999...".
CONFIDENCE_LEVELS = [round(i / 10, 1) for i in range(11)]
# Tokens the {"confidence": .., "content": "..."} wrapper costs on top of the client's max_tokens.
WRAPPER_TOKENS = 24
SELF_ASSESSMENT_SCHEMA = {
    "type": "object",
    "properties": {
        "confidence": {"enum": CONFIDENCE_LEVELS},
        "content": {"type": "string"},
    },
    "required": ["confidence", "content"],
    "additionalProperties": False,
}


def _unstreamed(body: dict[str, Any]) -> dict[str, Any]:
    """The body as a non-streaming request (the judge needs the whole answer)."""
    return {k: v for k, v in body.items() if k != "stream_options"} | {"stream": False}


def logprob_request(body: dict[str, Any], top_logprobs: int) -> dict[str, Any]:
    """The small-tier body for the logprobs method: same prompt, token logprobs requested."""
    return {
        **_unstreamed(body),
        "logprobs": True,
        "top_logprobs": max(top_logprobs, int(body.get("top_logprobs") or 0)),
    }


def self_assessment_request(body: dict[str, Any], instruction: str) -> dict[str, Any]:
    """The small-tier body for self-assessment: an instruction plus a JSON schema that the engine's
    structured output enforces, so the answer always has the {content, confidence} shape."""
    messages = [{"role": "system", "content": instruction}, *body["messages"]]
    budget = {k: body[k] + WRAPPER_TOKENS for k in ("max_tokens", "max_completion_tokens") if body.get(k)}
    return {
        **_unstreamed(body),
        **budget,
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "answer_with_confidence", "schema": SELF_ASSESSMENT_SCHEMA, "strict": True},
        },
    }


def _load_object(text: str, truncated: bool) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        pass
    if truncated:  # cut off by max_tokens: close the open content string, as the client's limit intends
        for candidate in (text + '"}', text[:-1] + '"}'):  # the second drops a dangling backslash
            try:
                return json.loads(candidate)
            except json.JSONDecodeError:
                continue
    return None


def parse_self_assessment(text: Optional[str], truncated: bool = False) -> tuple[Optional[str], Optional[float]]:
    """(content, confidence) from the small model's JSON answer; confidence None when missing,
    unparsable, not a number or outside [0, 1]; content None when the JSON is unusable.
    `truncated` (finish_reason "length") allows closing a content string that was cut off."""
    if not text:
        return None, None
    data = _load_object(text, truncated)
    if not isinstance(data, dict):
        return None, None
    content = data.get("content") if isinstance(data.get("content"), str) else None
    if content is None:  # no answer to keep, whatever the confidence says
        return None, None
    confidence = data.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)):
        return content, None
    if math.isnan(confidence) or not 0.0 <= confidence <= 1.0:
        return content, None
    return content, float(confidence)
