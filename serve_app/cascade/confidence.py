"""How confident the small tier's answer is, by two methods. A value that cannot be computed is
None, and None always means "escalate" (never read a missing value as confident)."""

import json
import math
from typing import Any, Optional

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


def logprob_confidence(logprobs: Any, weight: float) -> Optional[float]:
    """weight * exp(mean token logprob) + (1 - weight) * mean(p_top1 - p_top2), in [0, 1].

    `logprobs` is an OpenAI `choices[i].logprobs` object (dict form). None when absent or empty."""
    content = (logprobs or {}).get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    lps, margins = [], []
    for token in content:
        lp = token.get("logprob")
        if not isinstance(lp, (int, float)) or math.isnan(lp):
            return None
        lps.append(max(float(lp), -100.0))
        alts = sorted(
            (
                max(float(t["logprob"]), -100.0)
                for t in token.get("top_logprobs") or []
                if isinstance(t.get("logprob"), (int, float))
            ),
            reverse=True,
        )
        p1 = math.exp(alts[0]) if alts else math.exp(lps[-1])
        p2 = math.exp(alts[1]) if len(alts) > 1 else 0.0
        margins.append(max(0.0, p1 - p2))
    mean_prob = math.exp(sum(lps) / len(lps))
    margin = sum(margins) / len(margins)
    return min(1.0, max(0.0, weight * mean_prob + (1.0 - weight) * margin))


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
