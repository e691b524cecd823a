"""Judging with any OpenAI-compatible chat endpoint (URL + model from config, key from an
environment variable named in config, read when the client is built, never at import)."""

import os
from typing import Any, Optional

from serve_app.judging.config import JudgeEndpoint


class EndpointJudge:
    """`complete(body)` for `JudgeRunner`, over HTTP."""

    def __init__(self, cfg: JudgeEndpoint, transport: Optional[Any] = None):
        import httpx

        headers = {}
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if not key:
                raise ValueError(f"judge endpoint: environment variable {cfg.api_key_env} is not set")
            headers["authorization"] = f"Bearer {key}"
        self.model = cfg.model
        self.url = cfg.url.rstrip("/") + "/chat/completions"
        self._client = httpx.AsyncClient(headers=headers, timeout=cfg.timeout_s, transport=transport)

    async def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._client.post(self.url, json={**body, "model": self.model})
        response.raise_for_status()
        return response.json()

    async def aclose(self) -> None:
        await self._client.aclose()
