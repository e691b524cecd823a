"""OpenAI-style errors: one exception type and one body shape for every failure."""

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
    ):
        super().__init__(message)
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


def tier_unavailable(tier: str, detail: str) -> APIError:
    return APIError(503, f"The {tier} tier is unavailable: {detail}", "service_unavailable", None)


def from_engine_error(tier: str, status: int, message: str, type_: str = "") -> APIError:
    """Map an engine's ErrorResponse: client errors pass through, server errors become 503."""
    if 400 <= status < 500:
        return APIError(status, message, type_ or "invalid_request_error")
    return tier_unavailable(tier, message)
