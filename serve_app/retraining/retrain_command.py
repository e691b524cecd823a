"""`tier-router retrain`: candidate routers trained on judged shadow pairs, gated against the
running policy on the most recent held-out slice, promoted by writing the serve config.

    tier-router shadow-export STORE --out pairs.jsonl --since 28d --test-since 7d
    tier-router retrain pairs.jsonl --config deployments/cpu.yaml --artifact-dir routers [--dry-run]

Promotion writes `router.policy.strategy` (a content-hashed artifact, so the router always loads
the new one) and `router.policy.threshold` (comments kept); `serve deploy` then hot-swaps it.
"""

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path

from serve_app.evaluation.dataset import load_labelled
from serve_app.evaluation.training import LEARNED_KINDS
from serve_app.routing.learned import RouterArtifact


def add_parser(sub) -> None:
    p = sub.add_parser(
        "retrain",
        help="train routers on judged shadow pairs; promote one only if it beats "
        "the running policy on the newest pairs",
    )
    p.add_argument("pairs", help="JSONL from `tier-router shadow-export` (its `split: test` rows are held out)")
    p.add_argument("--config", required=True, help="serve config whose router policy is running (and is updated)")
    p.add_argument("--app", help="application name in the serve config (default: the first tier-router app)")
    p.add_argument("--kinds", default=",".join(LEARNED_KINDS), help="candidate kinds, comma-separated")
    p.add_argument("--artifact-dir", default="routers", help="where a promoted artifact is written")
    p.add_argument(
        "--margin",
        type=float,
        default=0.02,
        help="least gain in mean held-out quality (0-1 scale) a candidate must show",
    )
    p.add_argument("--confidence", type=float, default=0.95, help="bootstrap confidence level")
    p.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    p.add_argument("--min-test", type=int, default=30, help="fewest held-out pairs to decide on")
    p.add_argument("--folds", type=int, default=5, help="folds for choosing the candidate on the training slice")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="show the decision, write nothing")
    p.set_defaults(func=run)


def save_content_hashed(artifact: RouterArtifact, folder: Path) -> Path:
    """Write the artifact as `<kind>-<sha256 prefix>.npz` (atomically): a new router is a new path."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=folder)
    os.close(fd)
    artifact.save(tmp)
    digest = hashlib.sha256(Path(tmp).read_bytes()).hexdigest()[:16]
    path = folder / f"{artifact.kind}-{digest}.npz"
    os.replace(tmp, path)
    return path.resolve()


def _running_app(config: str, app: str | None):
    """The application whose router policy is compared (and replaced): `--app`, else the first."""
    from serve_app.serve_config import load_yaml, tier_router_apps

    apps = [a for a in tier_router_apps(load_yaml(config)) if not app or a.name == app]
    if not apps:
        raise SystemExit(f"retrain: no tier-router application {app!r} in {config}")
    return apps[0]


def _row(scored, running_quality: float) -> dict:
    q = float(scored.quality.mean())
    return {
        "policy": scored.name,
        "threshold": round(scored.threshold, 4),
        "large_share": round(scored.large_share, 4),
        "quality": round(q, 4),
        "vs_running": round(q - running_quality, 4),
    }


def evaluate(args: argparse.Namespace, store=None) -> dict:
    """Everything but the write: the table of policies on the held-out slice and the decision."""
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.heldout import Embedded
    from serve_app.retraining.candidates import (
        Scored,
        cross_validated_choice,
        policy_scores,
        score_candidate,
        split_by_column,
    )
    from serve_app.retraining.gate import decide, routed_quality
    from serve_app.retraining.operating_point import RunningPoint, ShareMatchedTuner

    store = store or EmbeddingStore(progress=False)
    train, test = split_by_column(load_labelled(args.pairs, "small", "large", name="shadow"))
    if not len(train) or not len(test):
        raise SystemExit(
            f"retrain: need both training and held-out (split=test) pairs; got {len(train)} and {len(test)}"
        )
    running_app = _running_app(args.config, args.app)
    policy = running_app.config.router.policy
    tuner = ShareMatchedTuner()
    running_scores = policy_scores(policy.strategy, test.prompts, store)
    running = RunningPoint.of(running_scores, policy.threshold)
    current = Scored(
        f"running:{policy.strategy.name}",
        running_scores,
        policy.threshold,
        routed_quality(running_scores, policy.threshold, test.weak, test.strong),
    )
    train_e = Embedded(train, store.embed(train.prompts, label="train"))
    test_e = Embedded(test, store.embed(test.prompts, label="test"))
    kinds = [k for k in args.kinds.split(",") if k]
    chosen, cv = (
        (kinds[0], {})
        if len(kinds) == 1
        else cross_validated_choice(train_e, kinds, running.large_share, tuner, args.folds)
    )
    candidates = {k: score_candidate(k, train_e, test_e, running, tuner) for k in kinds}
    best = candidates[chosen]
    decision = decide(
        best.quality,
        current.quality,
        args.margin,
        args.min_test,
        args.resamples,
        args.confidence,
        args.seed,
        extra_large_share=best.large_share - current.large_share,
    )
    base = float(current.quality.mean())
    return {
        "app": running_app.name,
        "train_pairs": len(train),
        "test_pairs": len(test),
        "tuner": tuner.name,
        "policies": [_row(current, base)] + [_row(c, base) for c in candidates.values()],
        "cv_quality": {k: round(v, 4) for k, v in cv.items()},
        "candidate": chosen,
        "candidate_note": best.note,
        "decision": decision.to_dict(),
        "_best": best,
    }


def run(args: argparse.Namespace) -> int:
    from serve_app.evaluation.calibrate import write_threshold

    result = evaluate(args)
    best = result.pop("_best")
    print(f"{'policy':<18}{'threshold':>10}{'large share':>13}{'quality':>9}{'vs running':>12}")
    for row in result["policies"]:
        print(
            f"{row['policy']:<18}{row['threshold']:>10.3f}{row['large_share']:>13.1%}"
            f"{row['quality']:>9.4f}{row['vs_running']:>+12.4f}"
        )
    decision = result["decision"]
    verdict = "PROMOTE" if decision["promote"] else "KEEP the running policy"
    print(f"candidate {result['candidate']} (chosen on the training slice): {verdict}: {decision['reason']}")
    if decision["promote"] and not args.dry_run:
        path = save_content_hashed(best.artifact, Path(args.artifact_dir))
        strategy = {"name": best.name, "artifact": str(path)}
        apps = write_threshold(Path(args.config), best.threshold, result["app"], strategy)
        result["written"] = {
            "config": args.config,
            "apps": apps,
            "strategy": strategy,
            "threshold": round(best.threshold, 4),
        }
        print(
            f"wrote {path} and router.policy of {', '.join(apps)} in {args.config}; apply with "
            f"`serve deploy {args.config}`"
        )
    elif decision["promote"]:
        print("--dry-run: nothing written")
    print(json.dumps(result, default=float))
    return 0
