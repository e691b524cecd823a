"""Per-tier serving cost: what one request costs on each tier. The one price model behind
`tier-router eval --costs`, the ingress cost/savings metrics (`ingress.costs`) and bench/cost.py."""

from pydantic import Field

from serve_app.strict_model import StrictModel


class TierCost(StrictModel):
    """Cost of one tier replica and how many requests it serves (measure it on your traffic)."""

    usd_per_gpu_hour: float = Field(gt=0, description="Price of one GPU-hour (or one replica-hour on CPU).")
    gpus: float = Field(1.0, gt=0, description="GPUs per replica (tensor parallel size).")
    requests_per_s: float = Field(gt=0, description="Measured sustained throughput of one replica.")

    def usd_per_hour(self) -> float:
        """Price of one replica-hour (all its GPUs)."""
        return self.usd_per_gpu_hour * self.gpus

    def usd_per_request(self) -> float:
        return self.usd_per_hour() / 3600.0 / self.requests_per_s


class TierCosts(StrictModel):
    """Both tiers' costs; the eval reports cost against sending everything to `large`."""

    small: TierCost = Field(description="Cost of the small tier.")
    large: TierCost = Field(description="Cost of the large tier.")

    def small_over_large(self) -> float:
        return self.small.usd_per_request() / self.large.usd_per_request()
