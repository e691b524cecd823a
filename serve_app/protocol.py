"""A chat completion request, parsed and checked once, before any tier sees it.

Lenient where OpenAI is lenient (unknown fields pass through to the engine's request model),
strict where a bad value would otherwise surface as a 5xx deep in the graph: the engine's request
model accepts any iterable of content parts lazily, so parts are checked here. `parse_chat_request`
is the one entry point: bounded JSON (`json_body`), the `tier_router` extension (removed from the
body), the checks below, the model name, then `ingress.limits`.
"""

from dataclasses import dataclass
from typing import Any, Optional

from serve_app.cascade.override import RequestExtension, pop_extension
from serve_app.errors import bad_request, model_not_found
from serve_app.json_body import parse_json_body
from serve_app.limits import LimitsConfig, apply_limits
from serve_app.vocabulary import SERVED_MODELS, ServedModel

VALID_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Content part type -> the key that must hold its payload (and that payload's type).
PART_PAYLOADS: dict[str, tuple[str, type]] = {
    "text": ("text", str),
    "image_url": ("image_url", dict),
    "input_audio": ("input_audio", dict),
    "file": ("file", dict),
    "refusal": ("refusal", str),
}
# Sampling fields whose range the engine would otherwise only find out while generating.
BOUNDED_NUMBERS: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 100.0),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "presence_penalty": (-2.0, 2.0),
    "frequency_penalty": (-2.0, 2.0),
    "repetition_penalty": (0.0, 100.0),
    "top_k": (-1, 1_000_000),
    "top_logprobs": (0, 20),
}


def validate_chat_body(body: dict[str, Any]) -> None:
    """Raise a 400 for the mistakes every chat request must not make."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required and must be a non-empty string.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' is required and must be a non-empty array.", "messages")
    for i, message in enumerate(messages):
        _check_message(i, message)
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise bad_request("'stream' must be a boolean.", "stream")
    _check_stream_options(body.get("stream_options"))
    for key in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise bad_request(f"'{key}' must be a positive integer.", key)
    for key, (low, high) in BOUNDED_NUMBERS.items():
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise bad_request(f"'{key}' must be a number from {low:g} to {high:g}.", key)


def _check_message(i: int, message: Any) -> None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad_request(f"{where} must be an object.", where)
    role = message.get("role")
    if not isinstance(role, str) or role not in VALID_ROLES:
        shown = repr(role) if isinstance(role, str) else f"a {type(role).__name__}"
        raise bad_request(f"{where}.role must be one of {list(VALID_ROLES)}, got {shown}.", f"{where}.role")
    content = message.get("content")
    if content is None and role in ("user", "system", "developer"):
        raise bad_request(f"{where}.content is required for role {role!r}.", f"{where}.content")
    if isinstance(content, list):
        _check_parts(where, content)
    elif content is not None and not isinstance(content, str):
        raise bad_request(f"{where}.content must be a string or an array of parts.", f"{where}.content")
    for key in ("name", "tool_call_id"):
        if message.get(key) is not None and not isinstance(message[key], str):
            raise bad_request(f"{where}.{key} must be a string.", f"{where}.{key}")
    if message.get("tool_calls") is not None and not isinstance(message["tool_calls"], list):
        raise bad_request(f"{where}.tool_calls must be an array.", f"{where}.tool_calls")


def _check_parts(where: str, parts: list[Any]) -> None:
    if not parts:
        raise bad_request(f"{where}.content must not be an empty array.", f"{where}.content")
    for j, part in enumerate(parts):
        at = f"{where}.content[{j}]"
        if not isinstance(part, dict):
            raise bad_request(f"{at} must be an object with a 'type'.", at)
        kind = part.get("type")
        payload = PART_PAYLOADS.get(kind) if isinstance(kind, str) else None
        if payload is None:
            raise bad_request(f"{at}.type must be one of {list(PART_PAYLOADS)}.", f"{at}.type")
        key, expected = payload
        if not isinstance(part.get(key), expected):
            raise bad_request(f"{at} of type {kind!r} needs '{key}' ({_type_word(expected)}).", f"{at}.{key}")


def _type_word(kind: type) -> str:
    return "a string" if kind is str else "an object"


def _check_stream_options(options: Optional[Any]) -> None:
    if options is None:
        return
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", "stream_options")
    for key in ("include_usage", "continuous_usage_stats"):
        if options.get(key) is not None and not isinstance(options[key], bool):
            raise bad_request(f"'stream_options.{key}' must be a boolean.", f"stream_options.{key}")


@dataclass(frozen=True)
class ChatRequest:
    """One validated chat request: the body the engines get (extension removed) and what the flow
    reads from it."""

    body: dict[str, Any]
    model: ServedModel
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool  # the client asked for a usage chunk at the end of the stream
    extension: RequestExtension


def parse_chat_request(raw: bytes, limits: Optional[LimitsConfig] = None) -> ChatRequest:
    """The request in `raw`, or a 4xx: 400 (malformed, over a limit) / 404 (unknown model)."""
    limits = limits or LimitsConfig()
    body = parse_json_body(raw, limits.max_json_depth)
    extension = pop_extension(body)
    validate_chat_body(body)
    if body["model"] not in SERVED_MODELS:
        raise model_not_found(body["model"], list(SERVED_MODELS))
    body = apply_limits(body, limits)
    body.pop("request_id", None)  # response ids are the engine's own, never client-chosen
    return ChatRequest(
        body=body,
        model=body["model"],
        messages=body["messages"],
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        extension=extension,
    )
