"""`tier-router eval-cascade`: the cascade measured on a live small tier's real answers.

Calls the small tier (any OpenAI-compatible URL; default the local graph's `small` model) on a
seeded sample of a labelled file stratified by category, caches every raw answer, grades it, and
measures every confidence signal as a cascade against the recorded scores of the large models,
next to the prompt-only routers on the same items.
"""

import argparse
import asyncio
import json
from pathlib import Path

from serve_app.evaluation.small_answers import CALL_KINDS, CallSettings

DEFAULT_DATA = "../shared/data/routellm_mmlu.jsonl"
DEFAULT_GOLD = "../shared/data/mmlu_gold.jsonl"
DEFAULT_LARGE = "gpt-4-1106-preview,mistralai/Mixtral-8x7B-Instruct-v0.1"


def default_cache() -> Path:
    from serve_app.local_files import cache_dir

    return cache_dir("cascade", "answers.jsonl")


def add_call_args(p: argparse.ArgumentParser) -> None:
    """Arguments shared with `tune`: which labelled items, which small tier, which cache."""
    p.add_argument("--data", default=DEFAULT_DATA, help="labelled JSONL (id, prompt, category, scores)")
    p.add_argument("--references", default=DEFAULT_GOLD, help="grader references, e.g. gold letters {id, answer}")
    p.add_argument("--grader", default="mc_letter", help="grader name (serve_app/evaluation/graders.py)")
    p.add_argument("--large", default=DEFAULT_LARGE, help="comma-separated large models (recorded scores)")
    p.add_argument("--size", type=int, default=1000, help="items in the stratified sample (0 = all)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--url", default=CallSettings.url, help="OpenAI-compatible base URL of the small tier")
    p.add_argument("--model", default=CallSettings.model, help="model name at that URL")
    p.add_argument("--max-tokens", type=int, default=CallSettings.max_tokens, help="max_tokens per answer")
    p.add_argument("--concurrency", type=int, default=CallSettings.concurrency, help="calls at once")
    p.add_argument("--timeout", type=float, default=CallSettings.timeout_s, help="seconds per call")
    p.add_argument(
        "--cache", default=None, help="answer cache JSONL (default: ~/.cache/tier-router/cascade/answers.jsonl)"
    )
    p.add_argument("--offline", action="store_true", help="make no calls: use cached answers only")


def settings_of(args: argparse.Namespace, kinds=CALL_KINDS) -> CallSettings:
    return CallSettings(
        url=args.url,
        model=args.model,
        max_tokens=args.max_tokens,
        top_logprobs=5,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        kinds=tuple(kinds),
    )


def add_parser(sub) -> None:
    p = sub.add_parser("eval-cascade", help="measure the cascade's confidence signals on a live small tier")
    add_call_args(p)
    p.add_argument("--kinds", default=",".join(CALL_KINDS), help=f"call kinds to make ({', '.join(CALL_KINDS)})")
    p.add_argument(
        "--routers",
        default="random,length,exemplar",
        help="prompt-only routers to show on the same items ('' for none)",
    )
    p.add_argument("--fit-out", help="also fit the `calibrated` confidence on every graded answer; write its JSON here")
    p.add_argument("--out", default="eval-out/cascade", help="folder for cascade.{json,md} and plots")
    p.add_argument("--benchmarks", help="also rewrite the cascade section of this Markdown file (BENCHMARKS.md)")
    p.set_defaults(func=run)


def collect_answers(items, settings: CallSettings, cache, offline: bool) -> dict:
    """Make the uncached calls (with a progress bar) unless offline; return the cached answers."""
    from tqdm import tqdm

    from serve_app.evaluation.small_answers import cached_answers, collect, plan

    pairs = [(i.id, i.prompt) for i in items]
    todo, cached = plan(pairs, settings, cache)
    print(f"{len(items)} items, {cached} calls cached, {0 if offline else len(todo)} to make", flush=True)
    if todo and not offline:
        with tqdm(total=len(todo), unit="call") as bar:
            errors = asyncio.run(collect(pairs, settings, cache, bar.update))
        if errors:
            print(f"{len(errors)} calls failed (rerun to retry); first: {errors[0]}")
    return cached_answers(pairs, settings, cache)


def load_records(args: argparse.Namespace, kinds=CALL_KINDS):
    """(items, records with cross-fitted `calibrated`, settings) for the arguments."""
    from serve_app.evaluation.answer_cache import AnswerCache
    from serve_app.evaluation.cascade_data import load_items
    from serve_app.evaluation.cascade_eval import add_cross_fitted, build_record
    from serve_app.evaluation.graders import get_grader

    grader = get_grader(args.grader)
    large = [m for m in args.large.split(",") if m]
    items, skipped = load_items(args.data, grader.load_references(args.references), large, args.size or None, args.seed)
    if skipped:
        print(f"{skipped} rows skipped: no reference or no score for {', '.join(large)}")
    settings = settings_of(args, kinds)
    answers = collect_answers(items, settings, AnswerCache(args.cache or default_cache()), args.offline)
    records = [r for r in (build_record(i, answers.get(i.id, {}), grader) for i in items) if r is not None]
    if len(records) < len(items):
        print(f"{len(items) - len(records)} items have no cached answer yet: measured on {len(records)}")
    add_cross_fitted(records)
    return items, records, settings, large


def route_scores(prompts: list[str], names: list[str]) -> dict:
    import numpy as np

    from serve_app.evaluation.dataset import LabelledSet
    from serve_app.evaluation.embeddings import EmbeddingStore
    from serve_app.evaluation.evaluate import baseline_scores

    if not names:
        return {}
    zeros = np.zeros(len(prompts))
    data = LabelledSet("cascade", prompts, [""] * len(prompts), ["test"] * len(prompts), zeros, zeros)
    scores = baseline_scores(data, EmbeddingStore())
    return {n: scores[n] for n in names}


def run(args: argparse.Namespace) -> int:
    from serve_app.evaluation.cascade_eval import evaluate_records
    from serve_app.evaluation.cascade_report import markdown, write_outputs

    _, records, settings, large = load_records(args, [k for k in args.kinds.split(",") if k])
    if not records:
        raise SystemExit("eval-cascade: no answers to measure")
    evaluation = evaluate_records(records, large)
    scores = route_scores([r.item.prompt for r in records], [n for n in args.routers.split(",") if n])
    meta = {
        "data": Path(args.data).name,
        "grader": args.grader,
        "model": settings.model,
        "max_tokens": settings.max_tokens,
    }
    header = (
        f"{len(records)} items of `{Path(args.data).name}` (stratified by category, seed {args.seed}), "
        f"small tier `{settings.model}`, greedy answers of at most {settings.max_tokens} tokens, "
        f"grader `{args.grader}`; `calibrated` is cross-fitted (5 folds, never scored on its training rows)."
    )
    md = markdown(evaluation, scores, header)
    print(md)
    written = write_outputs(Path(args.out), evaluation, scores, {**meta, "items": len(records), "seed": args.seed}, md)
    if args.fit_out:
        written.append(_fit_out(records, Path(args.fit_out), meta))
    if args.benchmarks:
        from serve_app.evaluation.cascade_benchmarks import CASCADE_SECTION, cascade_section, write_section

        images = [p for p in written if p.suffix == ".png"]
        write_section(args.benchmarks, CASCADE_SECTION, cascade_section(evaluation, md, images, Path.cwd()))
        written.append(Path(args.benchmarks))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _fit_out(records, path: Path, meta: dict) -> Path:
    """The `calibrated` weights fitted on every graded answer, written as JSON."""
    import numpy as np

    from serve_app.evaluation.calibration_fit import feature_matrix, fit

    x, mask = feature_matrix([r.features for r in records])
    y = np.array([r.correct for r, has in zip(records, mask, strict=True) if has])
    path.write_text(json.dumps(fit(x, y, meta=meta).to_json(), indent=1) + "\n")
    return path
