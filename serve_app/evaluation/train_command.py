"""`tier-router train`: fit a learned router on one or more labelled files, report held-out
quality (never quality on training rows), and write the artifact the router loads by config."""

import argparse
from pathlib import Path

import numpy as np

from serve_app.evaluation.dataset import DROP_MISSING, load_specs


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a learned router (kNN or logistic) on labelled JSONL files")
    p.add_argument("data", nargs="+", help="labelled JSONL files: PATH or PATH,WEAK_MODEL,STRONG_MODEL")
    p.add_argument("--kind", choices=["knn", "logistic"], default="knn", help="router to train")
    p.add_argument("--out", required=True, help="artifact path (.npz)")
    p.add_argument("--k", type=int, default=None, help="kNN neighbours (default: chosen by leave-one-out)")
    p.add_argument("--c", type=float, default=None, help="logistic inverse regularisation (default 1.0)")
    p.add_argument("--folds", type=int, default=5, help="k for the held-out report on files without a split")
    p.add_argument("--no-report", action="store_true", help="skip the held-out report")
    p.add_argument(
        DROP_MISSING,
        action="store_true",
        help="leave out rows that lack a score for either model (default: refuse such a file)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def final_rows(embedded):
    """All rows of every file, except the `test` rows of files that have their own split."""
    from serve_app.evaluation.training import TrainingRows

    rows = TrainingRows.empty(embedded[0].vectors.shape[1])
    for e in embedded:
        split = np.array(e.data.splits)
        keep = split != "test" if (split == "train").any() and (split == "test").any() else np.ones(len(split), bool)
        rows = rows.add(
            e.vectors[keep],
            e.data.normalised_gap()[keep],
            e.source(),
            [p for p, kept in zip(e.data.prompts, keep, strict=True) if kept],
        )
    return rows


def held_out_report(embedded, kind: str, folds: int, progress: bool, params: dict) -> None:
    from serve_app.evaluation.evaluate import baseline_scores
    from serve_app.evaluation.heldout import heldout_scores, protocol_of
    from serve_app.evaluation.metrics import summarise

    print(f"held-out quality of {kind} (each file's held-out rows; the other files join training):")
    for i, target in enumerate(embedded):
        pool = embedded[:i] + embedded[i + 1 :]
        index, scores = heldout_scores(target, [kind], folds, pool, progress, **params)
        data = target.data.subset(index)
        rows = {kind: scores[kind]}
        rows.update({n: s[index] for n, s in baseline_scores(target.data, _store(progress)).items() if n != "random"})
        cells = "  ".join(f"{n} APGR {summarise(s, data.weak, data.strong)['apgr']:.3f}" for n, s in rows.items())
        print(f"  {target.data.name} ({protocol_of(target.data, folds)}): {cells}")


def _store(progress: bool):
    from serve_app.evaluation.embeddings import EmbeddingStore

    return EmbeddingStore(progress=progress)


def run(args: argparse.Namespace) -> int:
    from serve_app.evaluation.heldout import Embedded
    from serve_app.evaluation.training import fit

    try:  # every file checked before minutes of embedding
        sets = load_specs(args.data, args.drop_missing)
    except ValueError as exc:
        raise SystemExit(f"tier-router train: {exc}") from None
    store = _store(not args.quiet)
    embedded = [Embedded(d, store.embed(d.prompts, label=d.name)) for d in sets]
    params = {k: v for k, v in {"k": args.k, "c": args.c}.items() if v is not None}
    if not args.no_report:
        held_out_report(embedded, args.kind, args.folds, not args.quiet, params)
    artifact = fit(args.kind, final_rows(embedded), **params)
    path = artifact.save(Path(args.out))
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, {artifact.meta['rows']} rows, no prompt text); "
        f"serve it with router.policy.strategy: {{name: {args.kind}, artifact: {path}}}"
    )
    return 0
