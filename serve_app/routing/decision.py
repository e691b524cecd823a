"""What a complexity score decides."""

from dataclasses import dataclass

from serve_app.vocabulary import LARGE, SMALL, Tier


@dataclass(frozen=True)
class RouteDecision:
    """The router's answer for one request: the tier and the evidence behind it."""

    tier: Tier
    score: float
    threshold: float
    strategy: str
    cached: bool = False


def decide(score: float, threshold: float, strategy: str, cached: bool = False) -> RouteDecision:
    """Large tier when the score is strictly above the threshold, small otherwise."""
    tier = LARGE if score > threshold else SMALL
    return RouteDecision(tier=tier, score=score, threshold=threshold, strategy=strategy, cached=cached)
