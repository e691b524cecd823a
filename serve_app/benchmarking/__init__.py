"""Serving benchmarks: statistics, machine facts, reports, a bounded load generator and the cost
model (all Ray-free), plus the extra Serve apps the graph benchmark compares (`graph_apps`)."""
