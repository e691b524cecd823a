"""Learning from the operator's own traffic: judged pairs -> candidate routers -> a promotion
gate against the running policy; drift of small-vs-large quality over time."""
