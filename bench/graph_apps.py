"""The two comparison paths of the graph benchmark, around the same echo engine as tier-router's
echo tiers: `direct` (one Serve deployment, LLMServer + EchoEngine, its own HTTP route) and
`ray_openai` (Ray's stock `build_openai_app`: OpenAiIngress -> LLMServer). Benchmark use only."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve
from ray.llm._internal.serve.core.configs.openai_api_models import ChatCompletionRequest
from ray.llm._internal.serve.core.server.llm_server import LLMServer
from ray.serve.llm import LLMConfig

from serve_app.graph.echo import EchoEngine

MODEL_ID = "small"
direct_app = FastAPI()


class EchoLLMServer(LLMServer):
    """Ray's LLMServer whose default engine is the echo engine (for `LLMConfig.server_cls`)."""

    _default_engine_cls = EchoEngine


def echo_llm_config(name: str = MODEL_ID) -> LLMConfig:
    return LLMConfig(
        model_loading_config={"model_id": name, "model_source": "echo"},
        placement_group_config={"bundles": [{"CPU": 0}]},
        deployment_config={"max_ongoing_requests": 256, "ray_actor_options": {"num_cpus": 0.5}},
        server_cls=EchoLLMServer,
        log_engine_metrics=False,
    )


@serve.ingress(direct_app)
class DirectEchoServer:
    """The engine reached in one hop: the replica that runs LLMServer + echo parses HTTP itself."""

    async def __init__(self, llm_config: LLMConfig):
        self._server = LLMServer.sync_init(llm_config, engine_cls=EchoEngine)
        await self._server.start()

    @direct_app.post("/v1/chat/completions")
    async def chat_completions(self, request: Request) -> Any:
        body = ChatCompletionRequest.model_validate(await request.json())
        gen = await self._server.chat(body)
        async for item in gen:
            return JSONResponse(item.model_dump(mode="json"))
        return JSONResponse({"error": {"message": "empty answer"}}, status_code=500)


def build_direct_app():
    cfg = echo_llm_config()
    return serve.deployment(
        DirectEchoServer, name="DirectEcho", max_ongoing_requests=256, ray_actor_options={"num_cpus": 0.5}
    ).bind(cfg)


def build_ray_openai_app():
    from ray.serve.llm import build_openai_app

    return build_openai_app({"llm_configs": [echo_llm_config()]})
