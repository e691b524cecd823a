"""Reading Serve config files (`serve run` / `serve deploy` YAML) and the tier-router apps in them."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from serve_app.config import AppConfig

BUILDER = "serve_app.graph.builder:build_app"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class ServeApp:
    name: str
    route_prefix: str
    config: AppConfig


def load_yaml(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data


def tier_router_apps(serve_config: dict[str, Any], required: bool = True) -> list[ServeApp]:
    """Validate every application whose import_path is tier-router's builder (a ValueError when
    there is none and they are `required`)."""
    apps = []
    for app in serve_config.get("applications") or []:
        if app.get("import_path") != BUILDER:
            continue
        name = app.get("name", "default")
        try:
            cfg = AppConfig.model_validate(app.get("args") or {})
        except Exception as exc:
            raise ValueError(f"application {name!r}: {exc}") from exc
        apps.append(ServeApp(name, app.get("route_prefix", "/"), cfg))
    if not apps and required:
        raise ValueError(f"no application uses {BUILDER}")
    return apps


def find_app(config_path: str | Path, app: str | None, command: str) -> ServeApp:
    """The tier-router application named `app` in the serve config at `config_path` (the first one
    when `app` is None), or a SystemExit naming `command` and the applications the file has."""
    apps = tier_router_apps(load_yaml(config_path), required=False)
    chosen = [a for a in apps if not app or a.name == app]
    if not chosen:
        names = ", ".join(a.name for a in apps) or "none"
        raise SystemExit(f"{command}: no tier-router application {app!r} in {config_path} (it has: {names})")
    return chosen[0]


def http_host(serve_config: dict[str, Any]) -> str:
    return (serve_config.get("http_options") or {}).get("host", "127.0.0.1")
