"""An ingress with a bug on purpose (its chat handler raises), for tests of the 500 path over HTTP.
Never deployed by a config."""

from serve_app.graph.ingress import TierRouterIngress


class BuggyIngress(TierRouterIngress):
    async def _chat(self, request):
        raise RuntimeError("bug injected by the test")
