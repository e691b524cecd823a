"""Operating the graph: escalation alarm, shadow A/B against the large tier, metrics. Pure logic
here; `serve_app/ops/metrics.py` is the only module that touches Ray's metrics API."""
