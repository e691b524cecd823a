"""Monthly cost of tier-router against sending everything to the large tier, from a
measured tier split and escalation rate (bench/load.py's result) and the per-tier prices,
throughputs, P99s and qualities of bench/costs.yaml (labelled assumptions).

    .venv/bin/python -m bench.cost                                  # uses bench/results/serving/load.json
    .venv/bin/python -m bench.cost --large-share 0.3 --escalation-rate 0.1   # or given by hand
    .venv/bin/python -m bench.cost --smoke
"""

import json
import sys
from pathlib import Path

from bench.cost_model import CostModel, compare
from bench.report import markdown_table
from bench.serving_report import RESULTS, ROOT, bench_parser, finish


def measured_split(path: Path) -> tuple[float, float, str]:
    """(share routed to large, escalation rate of small-routed requests), pooled over all steps."""
    steps = json.loads(path.read_text())["steps"]
    ok = sum(s["ok"] for s in steps) or 1
    escalated, cascaded = sum(s["escalated"] for s in steps), sum(s["cascaded"] for s in steps)
    # x-tier-router-tier names the tier that answered: escalated answers say `large` too.
    routed_large = (sum(s["tiers"].get("large", 0) for s in steps) - escalated) / ok
    esc = escalated / cascaded if cascaded else 0.0
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return routed_large, esc, f"{where} ({ok} requests over {len(steps)} concurrency steps)"


def main(argv=None) -> int:
    p = bench_parser(__doc__)
    p.add_argument("--model", default=str(ROOT / "bench" / "costs.yaml"), help="price file (YAML)")
    p.add_argument("--load", default=str(RESULTS / "load.json"), help="load result with the tier split")
    p.add_argument("--large-share", type=float, default=None, help="share routed to large (overrides --load)")
    p.add_argument("--escalation-rate", type=float, default=None, help="share of small-routed requests escalated")
    args = p.parse_args(argv)
    model = CostModel.from_yaml(args.model)
    if args.large_share is not None or args.smoke or not Path(args.load).exists():
        large, esc = args.large_share or 0.3, args.escalation_rate or 0.0
        origin = "given on the command line" if args.large_share is not None else "placeholder (no load result)"
    else:
        large, esc, origin = measured_split(Path(args.load))
    rows = compare(model, large, esc)
    md = render(rows, model, large, esc, origin)
    return finish(
        args,
        "cost",
        "Cost model",
        md,
        {
            "rows": rows,
            "model": model.model_dump(),
            "large_share": large,
            "escalation_rate": esc,
            "split_source": origin,
        },
    )


def render(rows, model: CostModel, large: float, esc: float, origin: str) -> str:
    table = markdown_table(
        ["scenario", "large calls/request", "$/month", "vs all-large", "P99 ms (upper)", "req/s per $/h", "quality"],
        [
            [
                r["scenario"],
                round(r["large_calls_per_request"], 3),
                f"{r['usd_per_month']:,.0f}",
                f"{100 * r['vs_all_large']:.0f}%",
                round(r["p99_ms_upper"]),
                round(r["requests_per_s_per_usd_hour"], 3),
                round(r["quality"], 1),
            ]
            for r in rows
        ],
    )
    tiers = "\n".join(
        f"- {name}: {t.model}, ${t.usd_per_hour():.2f}/h, {t.requests_per_s} req/s, P99 {t.p99_ms} ms, "
        f"quality {t.quality} ({t.source})"
        for name, t in (("small", model.small), ("large", model.large))
    )
    return (
        f"Split: {100 * large:.1f}% of requests routed to large, {100 * esc:.1f}% of small-routed "
        f"requests escalated; from {origin}. Traffic {model.traffic_requests_per_s} req/s average, 730 h/month.\n"
        f"Tier economics (`bench/costs.yaml`, **assumptions**, not measurements):\n\n{tiers}\n\n{table}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
