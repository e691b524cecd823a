"""What a complexity score decides."""

from dataclasses import dataclass

SMALL = "small"
LARGE = "large"
TIERS = (SMALL, LARGE)


@dataclass(frozen=True)
class RouteDecision:
    """The router's answer for one request: the tier and the evidence behind it."""

    tier: str
    score: float
    threshold: float
    strategy: str
    cached: bool = False


def decide(score: float, threshold: float, strategy: str, cached: bool = False) -> RouteDecision:
    """Large tier when the score is strictly above the threshold, small otherwise."""
    tier = LARGE if score > threshold else SMALL
    return RouteDecision(tier=tier, score=score, threshold=threshold, strategy=strategy, cached=cached)
