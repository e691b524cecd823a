"""Shared by the serving benchmarks: argument defaults, result paths, and the rewrite of the
`## Serving benchmarks` section of BENCHMARKS.md from every result JSON present."""

import argparse
import json
import sys
from pathlib import Path

from serve_app.benchmarking.report import machine_line, update_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "serving"
ORDER = ("router", "graph", "load", "cost")
INTRO = """Serving overhead and load, measured on this repository's own code (`bench/`). Each command
prints its table, writes `bench/results/serving/<name>.json` (with the machine and package
versions) and rewrites only this section. `--smoke` runs a seconds-long version that writes to
`bench/results/serving-smoke/` and leaves this file alone. The machines these ran on are shared, so
absolute numbers are noisy: compare the ratios measured side by side in one run.

| benchmark | command |
|---|---|
| 1. router scoring | `.venv/bin/python bench/router_overhead.py` |
| 2. graph overhead (echo engine) | `.venv/bin/python bench/graph_overhead.py` |
| 3. end-to-end load (CPU default, real vLLM) | `.venv/bin/python bench/load.py` |
| 4. cost model | `.venv/bin/python bench/cost.py` (reads the tier split of 3) |
"""


def common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help="tiny run that proves the command works")
    parser.add_argument("--out", default=None, help="result folder (default bench/results/serving)")
    parser.add_argument("--report", default=str(ROOT / "BENCHMARKS.md"), help="Markdown file to update")
    parser.add_argument("--no-report", action="store_true", help="do not touch the Markdown file")


def out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    return RESULTS.with_name("serving-smoke") if args.smoke else RESULTS


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    shown = script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else script.name
    return " ".join([".venv/bin/python", shown, *sys.argv[1:]])


def publish(args: argparse.Namespace) -> None:
    """Rebuild the section from the full-run JSONs (never from a smoke run)."""
    if args.smoke or args.no_report:
        return
    parts = [INTRO]
    for name in ORDER:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        parts.append(f"### {data['title']}\n\nCommand: `{data['command']}`  \n"
                     f"Machine: {machine_line(data['machine'])}\n\n{data['markdown'].strip()}\n")
    update_section(Path(args.report), "\n".join(parts))
    print(f"updated the serving section of {args.report}")
