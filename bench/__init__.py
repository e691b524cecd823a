"""Benchmarks (run from the repository root as `python -m bench.NAME`): statistics, machine facts,
reports, a bounded load generator and the cost model, plus the extra Serve apps the graph
benchmark compares (`graph_apps`). Not part of the installed package."""
