"""A chat completion request, parsed and checked once, before any tier sees it.

Lenient where OpenAI is lenient (unknown fields pass through to vLLM), strict where a bad value
would otherwise surface as a 500 deep in the graph. `parse_chat_request` is the one entry point:
JSON, the `tier_router` extension (removed from the body), the checks below, the model name.
"""

import json
from dataclasses import dataclass
from typing import Any

from serve_app.cascade.override import RequestExtension, pop_extension
from serve_app.errors import bad_request, model_not_found
from serve_app.vocabulary import SERVED_MODELS, ServedModel

VALID_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400."""
    if not raw:
        raise bad_request("Request body is empty; expected a JSON object.")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object.")
    return body


def validate_chat_body(body: dict[str, Any]) -> None:
    """Raise a 400 for the mistakes every chat request must not make."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required and must be a non-empty string.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' is required and must be a non-empty array.", "messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise bad_request(f"messages[{i}] must be an object.", f"messages[{i}]")
        role = message.get("role")
        if role not in VALID_ROLES:
            raise bad_request(
                f"messages[{i}].role must be one of {sorted(VALID_ROLES)}, got {role!r}.",
                f"messages[{i}].role",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_request(f"messages[{i}].content must be a string or an array of parts.", f"messages[{i}].content")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise bad_request("'stream' must be a boolean.", "stream")
    for key in ("max_tokens", "max_completion_tokens", "n"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise bad_request(f"'{key}' must be a positive integer.", key)


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


def parse_chat_request(raw: bytes) -> ChatRequest:
    """The request in `raw`, or a 400 (malformed) / 404 (unknown model)."""
    body = parse_json_body(raw)
    extension = pop_extension(body)
    validate_chat_body(body)
    if body["model"] not in SERVED_MODELS:
        raise model_not_found(body["model"], list(SERVED_MODELS))
    return ChatRequest(
        body=body,
        model=body["model"],
        messages=body["messages"],
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        extension=extension,
    )
