"""`tier-router tune CONFIG`: pick the route threshold and the cascade threshold together.

Labelled items (default: the `eval-cascade` MMLU sample, answers from its cache) give quality;
`--traffic` files of unlabelled prompts join the mix for the share reaching large. The small
tier's answers to the traffic prompts are collected (and cached) like eval-cascade's.
"""

import argparse
import json
import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from serve_app.evaluation.cascade_command import add_call_args, collect_answers, default_cache, settings_of


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune", help="choose route + cascade thresholds jointly for a share of large calls or a quality floor"
    )
    p.add_argument("config", help="serve config YAML (its router strategy and cascade method are tuned)")
    add_call_args(p)
    p.add_argument("--no-labelled", action="store_true", help="no labelled items: share from --traffic only")
    p.add_argument("--traffic", nargs="*", default=[], help="unlabelled prompt files (JSONL `prompt` or text lines)")
    p.add_argument("--traffic-size", type=int, default=200, help="most prompts per traffic file (seeded sample)")
    p.add_argument(
        "--traffic-kind",
        default="answer",
        choices=["answer", "sample"],
        help="traffic answers as greedy clients (answer) or clients sampling at temperature 1 "
        "(sample; vLLM's default when a request sets no temperature) get them",
    )
    p.add_argument(
        "--no-cascade",
        action="store_true",
        help="route thresholds only (no small-tier answers needed); --write sets the cascade mode to route_only",
    )
    p.add_argument("--method", help="cascade method to tune (default: the config's ingress.cascade.method)")
    goal = p.add_mutually_exclusive_group(required=True)
    goal.add_argument("--target-share", type=float, help="most share of traffic reaching large (0-1)")
    goal.add_argument("--quality-floor", type=float, help="least mean quality on the labelled items")
    p.add_argument(
        "--each-set",
        action="store_true",
        help="the target share holds for every set of the mix, not only for their mean",
    )
    p.add_argument(
        "--cascade-part",
        type=float,
        default=0.5,
        help="without labels: share of the large calls that should come from escalation",
    )
    p.add_argument("--steps", type=int, default=41, help="quantile steps of each threshold grid")
    p.add_argument("--boots", type=int, default=1000, help="bootstrap resamples for the intervals")
    p.add_argument("--plot", help="PNG of the joint curve (router alone, cascade alone, both)")
    p.add_argument("--json", help="write the result as JSON here")
    p.add_argument("--benchmarks", help="also rewrite the tune section of this Markdown file (BENCHMARKS.md)")
    p.add_argument("--app", help="application name in the config (default: the first tier-router app)")
    p.add_argument("--write", action="store_true", help="write both thresholds (and --method) into the config")
    p.set_defaults(func=run)


def _route_scorer(config):
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.evaluate import CachedEncoder
    from serve_app.routing.strategies import build_scorer, needs_encoder

    strategy = config.router.policy.strategy
    encoder = CachedEncoder(EmbeddingStore()) if needs_encoder(strategy) else None
    scorer = build_scorer(strategy, encoder)
    return lambda prompts: np.array(scorer.score(prompts), dtype=float)


def _traffic_items(path: str, size: int, seed: int) -> list:
    from serve_app.evaluation.dataset import read_prompts

    prompts = read_prompts(path)
    index = sorted(random.Random(seed).sample(range(len(prompts)), min(size, len(prompts))))
    return [SimpleNamespace(id=f"{Path(path).stem}:{i}", prompt=prompts[i]) for i in index]


def _labelled_set(args, method, policy, score):
    from serve_app.evaluation.cascade_command import load_records
    from serve_app.evaluation.tune import TuneSet

    kinds = ("self_assessment",) if method == "self_assessment" else ("answer",)
    _, records, _, large = load_records(args, ("answer", *kinds) if kinds != ("answer",) else kinds)
    model = large[0]
    if method == "self_assessment":
        records = [r for r in records if r.self_assessment_correct is not None]
        small = [r.self_assessment_correct for r in records]
    else:
        small = [r.correct for r in records]
    from serve_app.evaluation.served_confidence import labelled_confidence

    confidence = [labelled_confidence(method, r, policy) for r in records]
    return TuneSet.build(
        f"{Path(args.data).stem} (labelled, large = {model})",
        score([r.item.prompt for r in records]),
        confidence,
        small=small,
        large=[r.item.large_scores[model] for r in records],
    )


def _traffic_set(args, path, method, policy, score):
    from serve_app.evaluation.answer_cache import AnswerCache
    from serve_app.evaluation.served_confidence import served_confidence
    from serve_app.evaluation.tune import TuneSet

    kind = "self_assessment" if method == "self_assessment" else args.traffic_kind
    items = _traffic_items(path, args.traffic_size, args.seed)
    if args.no_cascade:
        return TuneSet.build(f"{Path(path).stem} (unlabelled)", score([i.prompt for i in items]), [1.0] * len(items))
    answers = collect_answers(
        items, settings_of(args, (kind,)), AnswerCache(args.cache or default_cache()), args.offline
    )
    kept = [i for i in items if kind in answers.get(i.id, {})]
    if len(kept) < len(items):
        print(f"{path}: {len(items) - len(kept)} prompts have no cached answer: share measured on {len(kept)}")
    confidence = [served_confidence(method, answers[i.id][kind], policy) for i in kept]
    return TuneSet.build(f"{Path(path).stem} (unlabelled, {kind})", score([i.prompt for i in kept]), confidence)


def run(args: argparse.Namespace) -> int:
    from serve_app.evaluation.tune import bootstrap, choose, curves, search
    from serve_app.evaluation.tune_report import plot, summary
    from serve_app.serve_config import find_app

    config = find_app(args.config, args.app, "tune").config
    policy = config.ingress.cascade
    method = args.method or policy.method
    score = _route_scorer(config)
    sets = [] if args.no_labelled else [_labelled_set(args, method, policy, score)]
    sets += [_traffic_set(args, path, method, policy, score) for path in args.traffic]
    if not sets:
        raise SystemExit("tune: nothing to tune on (give labelled data or --traffic)")
    grid = search(sets, args.steps, cascade=not args.no_cascade)
    point = choose(grid.points, args.target_share, args.quality_floor, args.cascade_part, args.each_set)
    intervals = bootstrap(sets, point.route_threshold, point.cascade_threshold, args.boots, args.seed)
    result = summary(sets, point, intervals, method, config.router.policy.strategy.name, args)
    print(json.dumps(result, indent=1))
    if args.plot:
        plot(curves(sets, grid), point, sets, Path(args.plot))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    if args.benchmarks:
        from serve_app.evaluation.cascade_benchmarks import TUNE_SECTION, tune_section, write_section

        write_section(args.benchmarks, TUNE_SECTION, tune_section(result, Path(args.plot) if args.plot else None))
    if args.write:
        _write(args, result)
    return 0


def _write(args: argparse.Namespace, result: dict) -> None:
    """Both thresholds (or, with --no-cascade, the route threshold and mode route_only) into the config."""
    from serve_app.config_writer import write_settings

    settings = {("router", "policy", "threshold"): result["route_threshold"]}
    if args.no_cascade:
        settings[("ingress", "cascade", "mode")] = "route_only"
    else:
        settings[("ingress", "cascade", "threshold")] = result["cascade_threshold"]
    if args.method:
        settings[("ingress", "cascade", "method")] = args.method
    apps = write_settings(Path(args.config), settings, args.app)
    print(f"wrote {', '.join('.'.join(k) for k in settings)} into {args.config} (apps: {', '.join(apps)})")
