"""The request body, read and parsed within bounds: size, read time, JSON depth, numbers a 64-bit
engine can hold, and text that can be encoded as UTF-8. Every violation is a 4xx `APIError`.
"""

import asyncio
import json
import math
from typing import Any, AsyncIterator, Optional

from serve_app.errors import bad_request
from serve_app.limits import body_timeout, payload_too_large

INT64_MAX = 2**63 - 1


async def read_body(
    chunks: AsyncIterator[bytes], declared_length: Optional[str], max_bytes: int, timeout_s: float
) -> bytes:
    """The whole body of at most `max_bytes`, arriving within `timeout_s` (413 / 408 otherwise).
    `declared_length` is the Content-Length header: a larger one is refused before reading."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise bad_request("Content-Length is not a number.") from None
        if declared > max_bytes:
            raise payload_too_large(max_bytes)

    async def collect() -> bytes:
        parts, size = [], 0
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise payload_too_large(max_bytes)
            parts.append(chunk)
        return b"".join(parts)

    try:
        return await asyncio.wait_for(collect(), timeout_s)
    except asyncio.TimeoutError:
        raise body_timeout(timeout_s) from None
    except Exception as exc:
        if type(exc).__name__ == "ClientDisconnect":  # Starlette's; nobody is left to answer
            raise bad_request("The client disconnected before sending the whole body.") from None
        raise


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_body(raw: bytes, max_depth: int = 64) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    if not raw:
        raise bad_request("Request body is empty; expected a JSON object.")
    try:
        body = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise bad_request(f"Request body is nested deeper than {max_depth} levels.") from None
    except UnicodeDecodeError:
        raise bad_request("Request body is not valid UTF-8 JSON.") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over Python's 4,300 digits
        raise bad_request(f"Request body is not valid JSON: {_short(exc)}") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object.")
    check_values(body, max_depth)
    return body


def _short(exc: Exception) -> str:
    """An exception's message without any echo of the input (never more than one line, 120 chars)."""
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def check_values(value: Any, max_depth: int) -> None:
    """400 for nesting deeper than `max_depth`, text that cannot be encoded as UTF-8 (lone
    surrogates), integers outside 64 bits and non-finite floats; iterative, so depth is safe."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, where = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > max_depth:
                raise bad_request(f"Request body is nested deeper than {max_depth} levels.", where or None)
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, where)
                    stack.append((child, depth + 1, f"{where}.{key}" if where else key))
            else:
                stack.extend((child, depth + 1, f"{where}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and not -INT64_MAX - 1 <= item <= INT64_MAX:
            raise bad_request("Integers must fit in 64 bits.", where or None)
        elif isinstance(item, float) and not math.isfinite(item):
            raise bad_request("Numbers must be finite.", where or None)


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request("Text must be valid Unicode (no lone surrogates).", where or None) from None
