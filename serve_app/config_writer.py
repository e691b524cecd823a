"""Write settings into a serve config file in place, keeping its comments, anchors and layout
(ruamel round trip), and check that the result still validates."""

import json
from pathlib import Path
from typing import Any, Optional


def write_settings(config_path: Path, settings: dict[tuple[str, ...], Any], app: Optional[str] = None) -> list[str]:
    """Set each `args` path of `settings` (e.g. ("router", "policy", "threshold")) in every
    tier-router application of a serve config, or in the one named `app`. Returns the apps changed."""
    from ruamel.yaml import YAML

    from serve_app.serve_config import BUILDER, tier_router_apps

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # keep `[{CPU: 1}]` as written
    data = yaml.load(Path(config_path).read_text())
    changed = []
    for entry in data.get("applications") or []:
        if entry.get("import_path") != BUILDER or (app and entry.get("name") != app):
            continue
        for path, value in settings.items():
            node = entry.setdefault("args", {})
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = value
        changed.append(entry.get("name", "default"))
    if not changed:
        raise ValueError(f"{config_path}: no tier-router application {app or ''} to update")
    tier_router_apps(json.loads(json.dumps(data)))  # the result must still validate
    with open(config_path, "w") as handle:
        yaml.dump(data, handle)
    return changed
