"""OpenAI-style errors: one exception type and one body shape for every failure."""

import math
from typing import Any, Optional


class APIError(Exception):
    """An error the client sees as `{"error": {...}}` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: Optional[str] = None,
        code: Optional[str] = None,
        headers: Optional[dict[str, str]] = None,
    ):
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code if self.code is not None else self.status,
            }
        }


def bad_request(message: str, param: Optional[str] = None) -> APIError:
    return APIError(400, message, "invalid_request_error", param)


def model_not_found(model: str, available: list[str]) -> APIError:
    return APIError(
        404,
        f"The model '{model}' does not exist. Available models: {', '.join(available)}.",
        "invalid_request_error",
        "model",
        "model_not_found",
    )


def retry_after(seconds: float) -> dict[str, str]:
    """The Retry-After header for `seconds` (whole seconds, at least 1)."""
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def tier_unavailable(tier: str, detail: str, retry_after_s: Optional[float] = None) -> APIError:
    headers = retry_after(retry_after_s) if retry_after_s is not None else None
    return APIError(503, f"The {tier} tier is unavailable: {detail}", "service_unavailable", None, None, headers)


def overloaded(detail: str, retry_after_s: float) -> APIError:
    """503 for load shed before any work was done: the client may retry after `retry_after_s`."""
    return APIError(
        503, f"Server overloaded: {detail}", "service_unavailable", None, "overloaded", retry_after(retry_after_s)
    )


def internal_error(request_id: str) -> APIError:
    """A bug: the client gets the request id to report, never the exception text."""
    return APIError(500, f"Internal error (request id {request_id}).", "server_error", None, "internal_error")


def from_engine_error(tier: str, status: int, message: str, type_: str = "") -> APIError:
    """Map an engine's ErrorResponse: client errors pass through, server errors become 503."""
    if 400 <= status < 500:
        return APIError(status, message, type_ or "invalid_request_error")
    return tier_unavailable(tier, message)
