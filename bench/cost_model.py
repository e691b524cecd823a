"""Monthly serving cost of a tier split against sending everything to the large tier (pure).

Inputs: the measured share of requests routed to `large`, the measured escalation rate of requests
routed to `small`, and per-tier price, throughput, P99 and quality from a YAML model whose
defaults are labelled assumptions (bench/costs.yaml).
"""

from serve_app.costs import PriceFile

HOURS_PER_MONTH = 730.0


# The price file's schema is the serving package's: one price model for eval, metrics and this.
CostModel = PriceFile


def scenario(model: CostModel, large_share: float, escalation_rate: float, name: str) -> dict:
    """Cost, P99, throughput per dollar and quality when `large_share` of requests route to large
    and `escalation_rate` of the small-routed ones are re-run on large (small work is still paid)."""
    if not (0 <= large_share <= 1 and 0 <= escalation_rate <= 1):
        raise ValueError("large_share and escalation_rate must lie in [0, 1]")
    if any(t.p99_ms is None or t.quality is None for t in (model.small, model.large)):
        raise ValueError("the monthly cost model needs p99_ms and quality for both tiers")
    small_calls = 1.0 - large_share
    escalated = small_calls * escalation_rate
    large_calls = large_share + escalated
    rps = model.traffic_requests_per_s
    small_replicas = rps * small_calls / model.small.requests_per_s
    large_replicas = rps * large_calls / model.large.requests_per_s
    usd_hour = small_replicas * model.small.usd_per_hour() + large_replicas * model.large.usd_per_hour()
    paths = [
        (large_share, model.large.p99_ms),
        (small_calls - escalated, model.small.p99_ms),
        (escalated, model.small.p99_ms + model.large.p99_ms),
    ]
    p99 = max(ms for share, ms in paths if share >= 0.01) if any(s >= 0.01 for s, _ in paths) else 0.0
    quality = large_calls * model.large.quality + (small_calls - escalated) * model.small.quality
    return {
        "scenario": name,
        "large_share": large_share,
        "escalation_rate": escalation_rate,
        "large_calls_per_request": large_calls,
        "usd_per_month": usd_hour * HOURS_PER_MONTH,
        "p99_ms_upper": p99,
        "requests_per_s_per_usd_hour": rps / usd_hour,
        "quality": quality,
    }


def compare(model: CostModel, large_share: float, escalation_rate: float) -> list[dict]:
    """All-large, route only (no escalation) and route + cascade, with savings against all-large."""
    rows = [
        scenario(model, 1.0, 0.0, "all large"),
        scenario(model, large_share, 0.0, "tier-router, route only"),
        scenario(model, large_share, escalation_rate, "tier-router, route + cascade"),
    ]
    base = rows[0]["usd_per_month"]
    for row in rows:
        row["vs_all_large"] = row["usd_per_month"] / base
    return rows
