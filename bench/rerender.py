"""Re-render stored serving results with today's generators, measuring nothing: each named result's
`markdown` is rebuilt from the data its JSON recorded (the command's own arguments are read back from
the recorded command line), then the BENCHMARKS.md serving section is rewritten from every result.
For text that describes a result (labels, notes, the shipped defaults it is compared with), never
for its numbers: a changed number needs a new run.

    .venv/bin/python -m bench.rerender router load stream_cascade prefix_curve
    .venv/bin/python -m bench.rerender              # every result listed below
"""

import argparse
import importlib
import json
import shlex
import sys

from bench.serving_report import RESULTS, ROOT, publish

# result name -> the bench module whose `markdown_from_result(data)` renders it
MODULES = {
    "router": "bench.router_overhead",
    "load": "bench.load",
    "stream_cascade": "bench.stream_cascade",
    "prefix_curve": "bench.prefix_curve",
    "readiness_poll": "bench.readiness_poll",
}


def recorded_args(data: dict, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The arguments a stored result ran with: its recorded command line through today's parser
    (`.venv/bin/python -m bench.NAME ARGS...`)."""
    return parser.parse_args(shlex.split(data["command"])[3:])


def rerendered(name: str) -> dict:
    """The stored result `name` with its markdown rendered again (nothing else changes)."""
    data = json.loads((RESULTS / f"{name}.json").read_text())
    module = importlib.import_module(MODULES[name])
    return {**data, "markdown": module.markdown_from_result(data)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help=f"results to re-render: {', '.join(MODULES)} (default all)")
    parser.add_argument("--report", default=str(ROOT / "BENCHMARKS.md"), help="Markdown file to update")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(MODULES))
    if unknown:
        parser.error(f"no renderer for {', '.join(unknown)}; one of {', '.join(MODULES)}")
    for name in args.names or MODULES:
        path = RESULTS / f"{name}.json"
        newline = "\n" if path.read_text().endswith("\n") else ""  # as the file was written
        path.write_text(json.dumps(rerendered(name), indent=1, default=str) + newline)
        print(f"re-rendered {name}")
    publish(argparse.Namespace(smoke=False, no_report=False, report=args.report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
