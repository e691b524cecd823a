"""Test tiers by folder: unit (no Ray, no model), minilm (real encoder), graph (real Ray Serve)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "minilm" in parts:
            item.add_marker(pytest.mark.minilm)
        if "graph" in parts:
            item.add_marker(pytest.mark.graph)
