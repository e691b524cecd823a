"""Which text of a chat request the router scores.

OpenAI messages carry `content` either as a string or as a list of parts
(`{"type": "text", "text": ...}`, `{"type": "image_url", ...}`); only text parts are scored.
"""

from enum import Enum
from typing import Any, Iterable, Mapping


class ScoreText(str, Enum):
    """What part of the conversation the router scores."""

    LAST_USER = "last_user"  # the last user message (default: the request being answered)
    ALL_USER = "all_user"  # every user message, joined
    CONVERSATION = "conversation"  # every message with text, system and assistant included


def content_text(content: Any) -> str:
    """The text of one message's `content`: the string itself, or its text parts joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping) and part.get("type") == "text":
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "\n".join(parts)
    return ""


def select_text(messages: Iterable[Mapping[str, Any]], mode: ScoreText = ScoreText.LAST_USER) -> str:
    """Return the text the router scores for these messages under `mode`."""
    messages = list(messages)
    if mode == ScoreText.LAST_USER:
        for message in reversed(messages):
            if message.get("role") == "user":
                return content_text(message.get("content"))
        return ""
    roles = {"user"} if mode == ScoreText.ALL_USER else None
    texts = [content_text(m.get("content")) for m in messages if roles is None or m.get("role") in roles]
    return "\n".join(t for t in texts if t)
