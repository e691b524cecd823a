"""TierServer: Ray Serve LLM's `LLMServer` whose replica keeps its gRPC server on a loopback node's
loopback address (serve_app/graph/loopback_grpc.py); otherwise exactly `LLMServer`."""

from ray.serve.llm.deployment import LLMServer

from serve_app.graph.loopback_grpc import bind_replica_grpc_to_loopback


class TierServer(LLMServer):
    async def __init__(self, *args, **kwargs):
        bind_replica_grpc_to_loopback()
        await super().__init__(*args, **kwargs)
