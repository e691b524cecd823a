"""Operating the graph: escalation alarm, shadow A/B against the large tier, the per-request
observer. Pure logic; Ray's metrics are injected (`serve_app/graph/metrics.py`)."""
