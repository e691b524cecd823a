"""tier-router: a Ray Serve graph that routes chat requests between a small and a large LLM tier."""
