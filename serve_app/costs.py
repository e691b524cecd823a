"""Per-tier serving cost: what one request costs on each tier. The one price model behind
`tier-router eval --costs`, the ingress cost/savings metrics (`ingress.costs`) and bench/cost.py,
and the one price file format (`PriceFile`, e.g. bench/costs.yaml)."""

from typing import Optional

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


class TierPrice(TierCost):
    """One tier in a price file: its cost, plus what bench/cost.py's monthly model also reads."""

    model: str = Field("", description="Model the tier serves (a label).")
    p99_ms: Optional[float] = Field(None, gt=0, description="P99 latency of one request on this tier (bench/cost.py).")
    quality: Optional[float] = Field(
        None, ge=0, description="Quality score of the tier's answers, e.g. a benchmark accuracy (bench/cost.py)."
    )
    source: str = Field("", description="Where these numbers come from (assumption, measurement, price list).")


class PriceFile(StrictModel):
    """A price file (bench/costs.yaml): both tiers, and the traffic bench/cost.py prices a month of."""

    small: TierPrice = Field(description="The cheap tier.")
    large: TierPrice = Field(description="The expensive tier.")
    traffic_requests_per_s: float = Field(10.0, gt=0, description="Average client requests/s over the month.")

    def tier_costs(self) -> TierCosts:
        """The per-request costs of both tiers (what the eval and the ingress metrics use)."""
        fields = set(TierCost.model_fields)
        return TierCosts(
            small=TierCost(**self.small.model_dump(include=fields)),
            large=TierCost(**self.large.model_dump(include=fields)),
        )
