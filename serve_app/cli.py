"""`tier-router` command line: check configs, prepare packaged weights, score prompts offline,
and measure, train and calibrate routers (logic in `serve_app/evaluation/`)."""

import argparse
import json
import sys
from typing import Optional, Sequence

from serve_app.evaluation import (
    calibrate,
    cascade_command,
    eval_command,
    suite,
    tier_server,
    train_command,
    tune_command,
)
from serve_app.retraining import drift_command, retrain_command
from serve_app.routing.policy import DEFAULT_THRESHOLD
from serve_app.serve_config import LOCAL_HOSTS, http_host, load_yaml, tier_router_apps


def _check(args: argparse.Namespace) -> int:
    try:
        serve_config = load_yaml(args.file)
        apps = tier_router_apps(serve_config)
    except Exception as exc:
        print(f"{args.file}: INVALID\n{exc}", file=sys.stderr)
        return 1
    host = http_host(serve_config)
    print(f"{args.file}: OK (HTTP on {host}{'' if host in LOCAL_HOSTS else ' - reachable off this machine'})")
    for app in apps:
        policy = app.config.router.policy
        print(
            f"  app {app.name!r} at {app.route_prefix}: router={policy.strategy.name} "
            f"threshold={policy.threshold:g} score_text={policy.score_text.value}"
        )
        for name in ("small", "large"):
            tier = getattr(app.config.tiers, name)
            source = tier.model_source or f"{tier.gguf.package}/{tier.gguf.file}"
            scale = tier.autoscaling
            print(
                f"    {name}: engine={tier.engine} source={source} replicas={scale.min_replicas}..{scale.max_replicas}"
            )
    return 0


def _prepare_model(args: argparse.Namespace) -> int:
    from serve_app.model_prep import ensure_converted

    for app in tier_router_apps(load_yaml(args.file)):
        for name in ("small", "large"):
            tier = getattr(app.config.tiers, name)
            if tier.gguf is not None and tier.engine == "vllm":
                print(f"{name}: {ensure_converted(tier.gguf)}")
    return 0


def _route(args: argparse.Namespace) -> int:
    from serve_app.config import RouterConfig
    from serve_app.routing.encoder_registry import make_encoder
    from serve_app.routing.policy import RouterPolicy
    from serve_app.routing.router_core import RouterCore

    strategy = {"name": args.strategy, **({"artifact": args.artifact} if args.artifact else {})}
    policy = {"threshold": args.threshold, "strategy": strategy}
    core = RouterCore(lambda: make_encoder(RouterConfig().encoder_settings()))
    core.apply(RouterPolicy.model_validate(policy))
    for prompt in args.prompts:
        d = core.route([{"role": "user", "content": prompt}])
        print(json.dumps({"prompt": prompt, "tier": d.tier, "score": round(d.score, 3), "strategy": d.strategy}))
    return 0


def _shadow_export(args: argparse.Namespace) -> int:
    from serve_app.operations.shadow_export import export_pairs
    from serve_app.operations.windows import parse_time

    counts = export_pairs(
        args.store,
        args.out,
        args.label,
        parse_time(args.since),
        parse_time(args.until),
        parse_time(args.test_since),
        args.test_share,
    )
    label = "judged quality" if args.label == "judge" else "agreement (weak 'small'; strong 'large' = 1.0)"
    print(f"{counts.written} pairs written to {args.out} ({counts.test} newest marked split=test), scored by {label}")
    if counts.unjudged:
        print(f"{counts.unjudged} pairs skipped: not judged or verdict unparsable (ingress.shadow.judge)")
    if counts.hashed:
        print(f"{counts.hashed} pairs skipped: recorded without text (set ingress.shadow.store_prompts)")
    return 0 if counts.written else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tier-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate a serve config file without starting anything")
    check.add_argument("file")
    check.set_defaults(func=_check)
    prep = sub.add_parser("prepare-model", help="convert packaged GGUF weights named by a config (cached)")
    prep.add_argument("file")
    prep.set_defaults(func=_prepare_model)
    route = sub.add_parser("route", help="score prompts with the router locally (no Ray)")
    route.add_argument("prompts", nargs="+")
    route.add_argument("--strategy", default="exemplar", choices=["exemplar", "length", "knn", "logistic"])
    route.add_argument("--artifact", help="trained router artifact for knn/logistic (tier-router train)")
    route.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    route.set_defaults(func=_route)
    shadow = sub.add_parser("shadow-export", help="export shadow A/B pairs as a dataset for train/eval")
    shadow.add_argument("store", help="SQLite store (ingress.shadow.store_path)")
    shadow.add_argument("--out", required=True, help="JSONL to write")
    shadow.add_argument(
        "--label",
        choices=["judge", "agreement"],
        default="judge",
        help="judge: the judge's verdict (unjudged pairs left out); agreement: token-F1 fallback",
    )
    shadow.add_argument("--since", help="first time included: ISO date/datetime or an age such as 28d")
    shadow.add_argument("--until", help="first time excluded (same forms)")
    shadow.add_argument("--test-since", help="pairs from this time on are the held-out test (split=test)")
    shadow.add_argument(
        "--test-share",
        type=float,
        default=0.2,
        help="without --test-since: the newest share of pairs marked split=test",
    )
    shadow.set_defaults(func=_shadow_export)
    for command in (
        eval_command,
        suite,
        train_command,
        calibrate,
        cascade_command,
        tune_command,
        tier_server,
        retrain_command,
        drift_command,
    ):
        command.add_parser(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except FileNotFoundError as exc:  # a path the user gave (data, artifact, config): say which, no traceback
        print(f"tier-router {args.command}: no such file: {exc.filename or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
