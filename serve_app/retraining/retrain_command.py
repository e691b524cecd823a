"""`tier-router retrain`: candidate routers trained on judged shadow pairs, gated against the
running policy on the most recent held-out slice, promoted by writing the serve config.

    tier-router shadow-export STORE --out pairs.jsonl --since 28d --test-since 7d
    tier-router retrain pairs.jsonl --config deployments/cpu.yaml --artifact-dir routers [--dry-run]

Two proposals go through the same gate against the running policy: the router candidate, and the
running router with its route and cascade thresholds refitted on the exported pairs' recorded
confidences (`cascade_refit.py`, `tier-router tune`'s search). Escalated answers count as large
ones in both the quality and the share reaching large. Promoting the candidate writes
`router.policy.strategy` (a content-hashed artifact, so the router always loads the new one) and
`router.policy.threshold`; promoting the refit writes `router.policy.threshold` and
`ingress.cascade.threshold` (comments kept); `serve deploy` then applies it. With both through the
gate, the larger gain is promoted.
"""

import argparse
import hashlib
import json
import os
import tempfile
from pathlib import Path

from serve_app.evaluation.dataset import load_labelled, read_rows
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


def _row(scored, running_quality: float) -> dict:
    q = float(scored.quality.mean())
    return {
        "policy": scored.name,
        "threshold": round(scored.threshold, 4),
        "cascade_threshold": None if scored.cascade_threshold is None else round(scored.cascade_threshold, 6),
        "large_share": round(scored.large_share, 4),
        "escalated": round(scored.escalated_share, 4),
        "quality": round(q, 4),
        "vs_running": round(q - running_quality, 4),
    }


def _gate(args: argparse.Namespace, proposal, current):
    from serve_app.retraining.gate import decide

    return decide(
        proposal.quality,
        current.quality,
        args.margin,
        args.min_test,
        args.resamples,
        args.confidence,
        args.seed,
        extra_large_share=proposal.large_share - current.large_share,
    )


def _cascade_refit(args, policy, cascade, train, test, current, store):
    """The running router with route + cascade thresholds refitted on the training slice, scored
    on the held-out slice against the running policy, both on the held-out pairs with a
    confidence under the running method: (Scored, gate decision, refit)."""
    from serve_app.retraining.candidates import Scored, policy_scores
    from serve_app.retraining.cascade_refit import refit
    from serve_app.retraining.gate import routed_quality

    point = refit(policy_scores(policy.strategy, train.prompts, store), cascade, train, policy.threshold)
    rows = cascade.test_rows
    scores, weak, strong, confidence = current.scores[rows], test.weak[rows], test.strong[rows], cascade.test[rows]
    running = Scored(
        current.name,
        scores,
        policy.threshold,
        routed_quality(scores, policy.threshold, weak, strong, confidence, cascade.threshold),
        confidence=confidence,
        cascade_threshold=cascade.threshold,
    )
    t_route, t_conf = point.route_threshold, point.cascade_threshold
    quality = routed_quality(scores, t_route, weak, strong, confidence, t_conf)
    note = (
        f"refitted on the training slice, at most its running share {point.target_share:.1%} reaching large; "
        f"compared on the {len(rows)} held-out pairs with a {cascade.method} confidence"
    )
    scored = Scored("refit:cascade", scores, t_route, quality, None, note, confidence, t_conf)
    return scored, _gate(args, scored, running), point


def _cascade_summary(cascade, note: str, refit) -> dict:
    if cascade is None:
        return {"refitted": False, "note": note}
    scored, decision, point = refit
    return {
        "refitted": True,
        "method": cascade.method,
        "running_threshold": cascade.threshold,
        "pairs_without_confidence": cascade.unscored,
        "route_threshold": point.route_threshold,
        "cascade_threshold": point.cascade_threshold,
        "train_target_share": round(point.target_share, 4),
        "train_quality": round(point.train_quality, 4),
        "note": scored.note,
        "decision": decision.to_dict(),
    }


def evaluate(args: argparse.Namespace, store=None) -> dict:
    """Everything but the write: the table of policies on the held-out slice and the decisions."""
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.heldout import Embedded
    from serve_app.retraining.candidates import (
        Scored,
        cross_validated_choice,
        policy_scores,
        score_candidate,
        split_by_column,
    )
    from serve_app.retraining.cascade_refit import running_cascade
    from serve_app.retraining.gate import routed_quality
    from serve_app.retraining.operating_point import RunningPoint, ShareMatchedTuner
    from serve_app.serve_config import find_app

    # The application whose router policy is compared (and replaced): `--app`, else the first.
    running_app = find_app(args.config, args.app, "retrain")
    # Embed with the running router's runtime and long-prompt policy, so scores match what serves.
    store = store or EmbeddingStore(progress=False, settings=running_app.config.router.encoder_settings())
    rows = read_rows(args.pairs)  # read once: the pairs and the cascade's recorded confidences
    train, test = split_by_column(load_labelled(args.pairs, "small", "large", name="shadow", rows=rows))
    if not len(train) or not len(test):
        raise SystemExit(
            f"retrain: need both training and held-out (split=test) pairs; got {len(train)} and {len(test)}"
        )
    policy = running_app.config.router.policy
    cascade, cascade_note = running_cascade(rows, running_app.config.ingress.cascade, train, test)
    held_out = (cascade.test, cascade.threshold) if cascade else (None, None)
    tuner = ShareMatchedTuner()
    running_scores = policy_scores(policy.strategy, test.prompts, store)
    running = RunningPoint.of(running_scores, policy.threshold)
    quality = routed_quality(running_scores, policy.threshold, test.weak, test.strong, *held_out)
    current = Scored(f"running:{policy.strategy.name}", running_scores, policy.threshold, quality, None, "", *held_out)
    train_e = Embedded(train, store.embed(train.prompts, label="train"))
    test_e = Embedded(test, store.embed(test.prompts, label="test"))
    kinds = [k for k in args.kinds.split(",") if k]
    chosen, cv = (
        (kinds[0], {})
        if len(kinds) == 1
        else cross_validated_choice(train_e, kinds, running.large_share, tuner, args.folds)
    )
    accounted = held_out if cascade else None
    candidates = {k: score_candidate(k, train_e, test_e, running, tuner, accounted) for k in kinds}
    best = candidates[chosen]
    refit = _cascade_refit(args, policy, cascade, train, test, current, store) if cascade else None
    base = float(current.quality.mean())
    scored = [current, *candidates.values(), *([refit[0]] if refit else [])]
    return {
        "app": running_app.name,
        "train_pairs": len(train),
        "test_pairs": len(test),
        "tuner": tuner.name,
        "policies": [_row(c, base) for c in scored],
        "cv_quality": {k: round(v, 4) for k, v in cv.items()},
        "candidate": chosen,
        "candidate_note": best.note,
        "decision": _gate(args, best, current).to_dict(),
        "cascade": _cascade_summary(cascade, cascade_note, refit),
        "_best": best,
        "_refit": refit[0] if refit else None,
    }


def _promoted(result: dict) -> str | None:
    """`router`, `cascade` or None: with both through the gate, the larger gain is promoted."""
    router, cascade = result["decision"], result["cascade"].get("decision") or {"promote": False}
    if router["promote"] and cascade["promote"]:
        return "router" if router["difference"] >= cascade["difference"] else "cascade"
    return "router" if router["promote"] else "cascade" if cascade["promote"] else None


def _print_table(result: dict) -> None:
    head = f"{'threshold':>10}{'cascade':>9}{'large share':>13}{'escalated':>11}{'quality':>9}{'vs running':>12}"
    print(f"{'policy':<18}{head}")
    for row in result["policies"]:
        cascade = "-" if row["cascade_threshold"] is None else f"{row['cascade_threshold']:.4g}"
        print(
            f"{row['policy']:<18}{row['threshold']:>10.3f}{cascade:>9}{row['large_share']:>13.1%}"
            f"{row['escalated']:>11.1%}{row['quality']:>9.4f}{row['vs_running']:>+12.4f}"
        )
    decision, cascade = result["decision"], result["cascade"]
    verdict = "PROMOTE" if decision["promote"] else "KEEP the running policy"
    print(f"candidate {result['candidate']} (chosen on the training slice): {verdict}: {decision['reason']}")
    if not cascade["refitted"]:
        print(f"cascade: {cascade['note']}")
        return
    verdict = "PROMOTE" if cascade["decision"]["promote"] else "KEEP the running thresholds"
    print(
        f"cascade refit ({cascade['method']}: route {cascade['route_threshold']:g}, cascade "
        f"{cascade['cascade_threshold']:g}; {cascade['pairs_without_confidence']} pairs without a "
        f"{cascade['method']} confidence left out): {verdict}: {cascade['decision']['reason']}"
    )


def _write(args: argparse.Namespace, result: dict, promoted: str, best, refit) -> None:
    from serve_app.config_writer import write_settings

    if promoted == "router":
        path = save_content_hashed(best.artifact, Path(args.artifact_dir))
        strategy = {"name": best.name, "artifact": str(path)}
        threshold = float(best.threshold)  # as evaluated: `score_candidate` took the written value
        settings = {("router", "policy", "strategy"): strategy, ("router", "policy", "threshold"): threshold}
        written = {"strategy": strategy, "threshold": threshold}
    else:
        route, cascade = float(refit.threshold), float(refit.cascade_threshold)  # as evaluated (written_thresholds)
        settings = {("router", "policy", "threshold"): route, ("ingress", "cascade", "threshold"): cascade}
        written = {"threshold": route, "cascade_threshold": cascade}
    apps = write_settings(Path(args.config), settings, result["app"])
    result["written"] = {"config": args.config, "apps": apps, **written}
    keys = ", ".join(".".join(k) for k in settings)
    print(f"wrote {keys} of {', '.join(apps)} in {args.config}; apply with `serve deploy {args.config}`")


def run(args: argparse.Namespace) -> int:
    result = evaluate(args)
    best, refit = result.pop("_best"), result.pop("_refit")
    _print_table(result)
    promoted = result["promoted"] = _promoted(result)
    if promoted and args.dry_run:
        print(f"--dry-run: would promote the {promoted}; nothing written")
    elif promoted:
        if promoted == "router" and result["cascade"].get("decision", {}).get("promote"):
            print("both passed the gate: the router candidate's gain is the larger")
        _write(args, result, promoted, best, refit)
    print(json.dumps(result, default=float))
    return 0
