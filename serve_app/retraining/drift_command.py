"""`tier-router drift STORE`: judged small-vs-large outcomes over time, by route-score bucket or
request category, as a table and a PNG (the weekly A/B view that catches drift)."""

import argparse
import json

from serve_app.operations.windows import parse_time
from serve_app.retraining.drift import DEFAULT_EDGES, JudgedRow, drift_table, format_table, plot


def add_parser(sub) -> None:
    p = sub.add_parser("drift", help="judged small-vs-large quality over time, by score bucket or category")
    p.add_argument("store", help="shadow SQLite store (ingress.shadow.store_path)")
    p.add_argument("--by", choices=["bucket", "category"], default="bucket", help="group rows by")
    p.add_argument("--period", choices=["day", "week"], default="week", help="time period of a row")
    p.add_argument("--since", help="first time included: ISO date/datetime or an age such as 8w")
    p.add_argument("--until", help="first time excluded")
    p.add_argument(
        "--buckets",
        default=",".join(f"{e:g}" for e in DEFAULT_EDGES),
        help="route-score bucket edges on the 0-10 scale, comma-separated",
    )
    p.add_argument("--png", help="also plot the small-not-worse share per period to this PNG")
    p.set_defaults(func=run)


def judge_summary(rows: list[dict]) -> dict:
    """How the judge did on the window's pairs: verdicts, unparsable ones, and (pairwise) how often
    the two orders agreed, which a position-biased judge does only on ties."""
    verdicts = [r for r in rows if r["verdict_mode"] is not None]
    both = [r for r in verdicts if r["verdict_mode"] == "pairwise" and r["consistent"] is not None]
    agreed = sum(r["consistent"] == 1 for r in both)
    return {
        "pairs": len(rows),
        "judged": len(verdicts),
        "unparsable": sum(r["outcome"] is None for r in verdicts),
        "pairwise_orders_agreed": agreed,
        "pairwise_order_agreement": round(agreed / len(both), 4) if both else None,
    }


def run(args: argparse.Namespace) -> int:
    from serve_app.operations.shadow import ShadowStore

    stored = ShadowStore(args.store, max_rows=2**62, store_prompts=False).rows(
        parse_time(args.since), parse_time(args.until)
    )
    rows = [JudgedRow(r["ts"], r["outcome"], r["route_score"], r["category"]) for r in stored if r["outcome"]]
    print("judge:", json.dumps(judge_summary(stored)))
    if not rows:
        print(f"{args.store}: no judged pairs in the window (is ingress.shadow.judge.sample_rate > 0?)")
        return 1
    edges = [float(x) for x in args.buckets.split(",") if x]
    cells = drift_table(rows, args.by, args.period, edges)
    print(format_table(cells, args.by))
    if args.png:
        plot(cells, args.by, args.png)
        print(f"wrote {args.png}")
    return 0
