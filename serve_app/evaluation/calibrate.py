"""`tier-router calibrate`: the threshold that sends a target share of traffic to the large tier.

RouteLLM's quantile method: score unlabelled prompts with the strategy, take the (1 - share)
quantile. The router sends scores strictly above the threshold to the large tier. With `--write`
the threshold goes into the serve config at `applications[].args.router.policy.threshold`
(comments and anchors kept).
"""

import argparse
import json
from pathlib import Path
from typing import Optional

import numpy as np

from serve_app.evaluation.dataset import read_prompts, read_rows


def quantile_threshold(scores: np.ndarray, share: float) -> float:
    """Threshold t in [0, 10] whose share of scores > t is closest to `share` (RouteLLM's
    quantile, made exact for ties: tied prompts always land on the same side)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError("share must lie in [0, 1]")
    scores = np.asarray(scores, dtype=float)
    values = np.unique(scores)
    # midway between neighbouring distinct scores, below the lowest (if > 0) and at the highest
    candidates = np.r_[(values[:-1] + values[1:]) / 2.0, values[-1]]
    if values[0] > 0.0:
        candidates = np.r_[values[0] / 2.0, candidates]
    shares = np.array([np.mean(scores > t) for t in candidates])
    best = candidates[int(np.argmin(np.abs(shares - share)))]
    return float(np.clip(best, 0.0, 10.0))


def escalation_share(scores: np.ndarray, weak: np.ndarray, strong: np.ndarray, threshold: float) -> dict:
    """With labels: share of traffic routed small whose small answer is worse than the large one
    (what a cascade that catches every such answer would escalate)."""
    small = np.asarray(scores) <= threshold
    worse = np.asarray(weak) < np.asarray(strong)
    return {
        "routed_large": float(np.mean(~small)),
        "escalated": float(np.mean(small & worse)),
        "large_calls_with_cascade": float(np.mean(~small | (small & worse))),
    }


def write_threshold(
    config_path: Path, threshold: float, app: Optional[str] = None, strategy: Optional[dict] = None
) -> list[str]:
    """Set router.policy.threshold (and `strategy`, when given) of every tier-router app, or of the
    one named, in a serve config."""
    from serve_app.config_writer import write_settings

    settings = {("router", "policy", "threshold"): round(float(threshold), 4)}
    if strategy is not None:
        settings[("router", "policy", "strategy")] = strategy
    return write_settings(config_path, settings, app)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1 (0.3 means 30%)")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("calibrate", help="threshold that sends a target share of prompts to the large tier")
    p.add_argument("prompts", help="unlabelled prompts: JSONL with a `prompt` field, or text, one per line")
    p.add_argument("--share", type=_share, required=True, help="target share of large-tier calls, 0-1")
    p.add_argument("--config", help="serve config YAML whose router policy (strategy) scores the prompts")
    p.add_argument("--app", help="application name in the serve config (default: every tier-router app)")
    p.add_argument(
        "--strategy", help='strategy as JSON instead of --config, e.g. \'{"name": "knn", "artifact": "knn.npz"}\''
    )
    p.add_argument("--write", action="store_true", help="write the threshold (and --strategy, if given) into --config")
    p.add_argument("--labels", help="weak,strong model names: if the prompts file has scores, report escalation")
    p.set_defaults(func=run)


def strategy_config(args: argparse.Namespace):
    from serve_app.routing.policy import RouterPolicy

    if args.strategy:
        return RouterPolicy.model_validate({"strategy": json.loads(args.strategy)}).strategy
    if args.config:
        return _app_config(args).router.policy.strategy
    raise SystemExit("calibrate: give --config or --strategy")


def _app_config(args: argparse.Namespace):
    """The AppConfig of --app (default: the first tier-router app) in --config, or a clear exit."""
    from serve_app.serve_config import find_app

    return find_app(args.config, args.app, "calibrate").config


def _encoder_settings(args: argparse.Namespace):
    """The config's router encoder (runtime, long-prompt policy), else the serving default."""
    if not args.config:
        return None
    return _app_config(args).router.encoder_settings()


def _label_models(text: str) -> tuple[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise SystemExit(f"calibrate: --labels takes WEAK_MODEL,STRONG_MODEL, got {text!r}")
    return parts[0], parts[1]


def run(args: argparse.Namespace) -> int:
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.evaluate import CachedEncoder
    from serve_app.routing.strategies import build_scorer, needs_encoder

    if args.write and not args.config:
        raise SystemExit("calibrate: --write needs --config")
    if args.labels:
        _label_models(args.labels)  # checked before any prompt is embedded
    config = strategy_config(args)
    prompts = read_prompts(args.prompts)
    settings = _encoder_settings(args)
    encoder = CachedEncoder(EmbeddingStore(settings=settings)) if needs_encoder(config) else None
    scores = np.array(build_scorer(config, encoder).score(prompts))
    threshold = quantile_threshold(scores, args.share)
    result = {
        "strategy": config.name,
        "prompts": len(prompts),
        "target_share": args.share,
        "threshold": round(threshold, 4),
        "large_share": float(np.mean(scores > threshold)),
    }
    if args.labels:
        weak, strong = _label_models(args.labels)
        rows = read_rows(args.prompts)
        missing = sorted({m for r in rows for m in (weak, strong) if m not in r.get("scores", {})})
        if missing:
            known = sorted({m for r in rows for m in r.get("scores", {})})
            raise SystemExit(f"calibrate: --labels names {missing}, not scored by every row (models: {known})")
        w, s = (np.array([float(r["scores"][m]) for r in rows]) for m in (weak, strong))
        result["cascade"] = escalation_share(scores, w, s, threshold)
    if args.write:
        strategy = config.model_dump(exclude_none=True) if args.strategy else None  # calibrated for this one
        apps = write_threshold(Path(args.config), threshold, args.app, strategy)
        result["written_to"] = {"file": args.config, "apps": apps, "strategy_written": strategy is not None}
    print(json.dumps(result, indent=1))
    return 0
