"""Names of the routing-evidence response headers: the one place they are spelled."""

PREFIX = "x-tier-router-"
TIER = PREFIX + "tier"  # the tier that answered: small | large
SCORE = PREFIX + "score"  # complexity score, 0-10 (absent when the client named a tier)
STRATEGY = PREFIX + "strategy"  # strategy that scored the prompt, or "direct"
THRESHOLD = PREFIX + "threshold"  # threshold the score was compared with
ROUTE_REASON = PREFIX + "route-reason"  # routed | direct | router-fallback
CACHED = PREFIX + "cached"  # "1" when the score came from the router's cache
