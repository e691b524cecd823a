"""`tier-router eval`: measure routers on one labelled JSONL; table, JSON and PNG."""

import argparse
from pathlib import Path

from serve_app.evaluation.dataset import DROP_MISSING, load_specs
from serve_app.routing.policy import DEFAULT_THRESHOLD


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure routers on a labelled JSONL against the baselines")
    p.add_argument("data", help="labelled JSONL: PATH or PATH,WEAK_MODEL,STRONG_MODEL")
    p.add_argument(
        "--learned",
        nargs="*",
        default=["knn", "logistic"],
        choices=["knn", "logistic"],
        help="learned routers to train and score held-out (default: both)",
    )
    p.add_argument(
        "--pool", nargs="*", default=[], metavar="SPEC", help="other labelled files that join every fold's training set"
    )
    p.add_argument("--artifact", nargs="*", default=[], help="trained router artifacts to score as they are")
    p.add_argument("--folds", type=int, default=5, help="k for k-fold when the file has no train/test split")
    p.add_argument("--config", help="serve config YAML: take the threshold from its router policy")
    p.add_argument(
        "--threshold", type=float, help=f"threshold for the split table (default: config or {DEFAULT_THRESHOLD:g})"
    )
    p.add_argument("--costs", help="price file with per-tier costs (see bench/costs.yaml)")
    p.add_argument("--out", default="eval-out", help="folder for <dataset>.json and <dataset>.png")
    p.add_argument(
        DROP_MISSING,
        action="store_true",
        help="leave out rows that lack a score for either model (default: refuse such a file)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_encoder_args(p)
    p.set_defaults(func=run)


def add_encoder_args(p) -> None:
    """--encoder-backend / --long-prompts: embed as a router with these settings would (default: the
    serving default), so thresholds and artifacts fit the runtime that serves them."""
    from serve_app.routing.encoder_registry import BACKENDS
    from serve_app.routing.long_prompts import POLICIES

    p.add_argument(
        "--encoder-backend",
        default="auto",
        choices=["auto", *BACKENDS],
        help="MiniLM runtime (router.encoder_backend; default auto, as served)",
    )
    p.add_argument(
        "--long-prompts",
        default="chunk_mean",
        choices=POLICIES,
        help="texts over the 254-token window (router.long_prompts; default chunk_mean, as served)",
    )


def encoder_settings(args: argparse.Namespace):
    from serve_app.config import RouterConfig

    return RouterConfig(encoder_backend=args.encoder_backend, long_prompts=args.long_prompts).encoder_settings()


def configured_threshold(config: str | None) -> float | None:
    if not config:
        return None
    from serve_app.serve_config import find_app

    return find_app(config, None, "eval").config.router.policy.threshold


def run(args: argparse.Namespace) -> int:
    from serve_app.costs import PriceFile
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.evaluate import evaluate, load_artifacts
    from serve_app.evaluation.report import (
        heading,
        metrics_table,
        plot,
        threshold_table,
        write_json,
    )

    threshold = args.threshold if args.threshold is not None else configured_threshold(args.config)
    cost_ratio = PriceFile.from_yaml(args.costs).tier_costs().small_over_large() if args.costs else None
    try:  # every input checked before minutes of embedding
        data, *pool = load_specs([args.data, *args.pool], args.drop_missing)
        load_artifacts(args.artifact)
    except ValueError as exc:
        raise SystemExit(f"tier-router eval: {exc}") from None
    store = EmbeddingStore(progress=not args.quiet, settings=encoder_settings(args))
    report = evaluate(
        data,
        store,
        learned=args.learned,
        artifacts=args.artifact,
        pool=pool,
        folds=args.folds,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        cost_ratio=cost_ratio,
        progress=not args.quiet,
    )
    out = Path(args.out)
    print(heading(report), "", metrics_table(report), "", threshold_table(report), "", sep="\n")
    print(
        f"{store.over_window(data.prompts)} of {len(data.prompts)} prompts exceed MiniLM's 254-token window; "
        f"scored whole under long_prompts={store.settings.long_prompts} (encoder {store.encoder_id})"
    )
    print(
        f"wrote {write_json(report, out / f'{report.dataset}.json')} and {plot(report, out / f'{report.dataset}.png')}"
    )
    return 0
