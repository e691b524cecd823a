"""Confidence escalation: judge the small tier's answer, re-run doubtful ones on the large tier.

Pure logic, no Ray: `signals` and `calibrated` compute confidences (`methods` picks one by
name), `confidence` builds the small tier's request and parses self-assessments, `override`
reads per-request knobs, `replay` turns a finished answer into SSE chunks, `runner` orchestrates
the two tiers.
"""
