"""Confidence escalation: judge the small tier's answer, re-run doubtful ones on the large tier.

Pure logic, no Ray: `confidence` computes scores, `override` reads per-request knobs, `replay` turns
a finished answer into SSE chunks, `runner` orchestrates the two tiers.
"""
