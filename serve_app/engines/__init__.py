"""Engines that plug into Ray Serve LLM's `LLMServer` through its `engine_cls` seam."""
