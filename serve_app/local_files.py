"""Files tier-router finds on this machine: data shipped inside installed Python packages (weights,
located without importing the package) and its own cache folder."""

import importlib.util
import os
from pathlib import Path

CACHE_ENV = "TIER_ROUTER_CACHE_DIR"


def cache_dir(*parts: str) -> Path:
    """`$TIER_ROUTER_CACHE_DIR/<parts>`, else `~/.cache/tier-router/<parts>` (not created)."""
    base = os.environ.get(CACHE_ENV)
    return Path(base or Path.home() / ".cache" / "tier-router").joinpath(*parts)


def package_file(package: str, name: str, install_hint: str) -> Path:
    """Path of `name` inside the installed package `package`; the package is never imported.
    RuntimeError naming `install_hint` when the package or the file is missing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed; install it with `{install_hint}`")
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.exists():
        raise RuntimeError(f"{name} not found in package {package} ({path.parent})")
    return path
