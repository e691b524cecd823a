"""Judging shadow pairs (small answer vs large answer) with an LLM judge: prompts, verdict parsing
and order-swap aggregation (pure), and a bounded background runner."""
