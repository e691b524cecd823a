"""Server-sent events as the OpenAI API streams them: `data: <json>` frames, then `data: [DONE]`.
The one place frames are written and read."""

import json
from typing import Any, Optional

DONE = "[DONE]"
DONE_FRAME = f"data: {DONE}\n\n"


def frame(payload: Any) -> str:
    """One SSE frame; `payload` is JSON-encoded unless it is already a string."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n"


def split_frames(text: str) -> list[str]:
    """The `data:` frames in a chunk of SSE text, each normalised to `data: <payload>\\n\\n`."""
    return [
        frame(part.strip()[len("data:") :].strip()) for part in text.split("\n\n") if part.strip().startswith("data:")
    ]


def payload(sse_frame: str) -> str:
    """The text after `data:` in a frame (or line), stripped; "" for anything else."""
    return sse_frame[len("data:") :].strip() if sse_frame.startswith("data:") else ""


def json_payload(sse_frame: str) -> Optional[Any]:
    """The frame's JSON payload, or None for `[DONE]` and anything that is not JSON."""
    text = payload(sse_frame)
    if not text or text == DONE:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
