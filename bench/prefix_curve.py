"""Prefix confidence: how much of the whole answer's confidence signal the streaming cascade keeps
when it judges only the first k tokens (`ingress.cascade.prefix_tokens`).

Reads the cascade evaluation's answer cache (`tier-router eval-cascade`: the real small tier's
greedy answers with per-token logprobs, `kind: answer`), grades each whole answer with the same
grader, and computes every logprob signal of the cascade evaluation on the first k tokens: AUROC
for "the small answer is right" and the cascade's APGR against the recorded large model, beside
the whole answer's (a k-token prefix of a greedy answer is exactly the first k tokens the engine
streams). Also the serving signal at the cascade policy's default threshold: escalation share,
quality, and how often the prefix decision equals the whole-answer decision.

    .venv/bin/python -m bench.prefix_curve [--cache ANSWERS.jsonl] [--ks 1,2,4,8,16]
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from bench.report import markdown_table
from bench.serving_report import ROOT, common_args, finish

try:  # the cascade evaluation (issue 11): signals, metrics and graders shared with eval-cascade
    from serve_app.cascade.signals import LOGPROB_SIGNALS
    from serve_app.evaluation.cascade_metrics import evaluate_signal
    from serve_app.evaluation.graders import GRADERS
except ImportError as exc:  # pragma: no cover - explained to the operator
    sys.exit(f"bench.prefix_curve needs the cascade evaluation modules (tier-router eval-cascade): {exc}")

from serve_app.cascade.policy import CascadePolicy
from serve_app.local_files import cache_dir

SERVING_SIGNAL = "logprobs"  # what CascadePolicy(method="logprobs") computes when it judges


def load_answers(cache: Path) -> dict[str, dict]:
    """{id: slim response} of the cache's greedy answers (the last one per id)."""
    out = {}
    for line in cache.open(encoding="utf-8"):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("kind") == "answer" and (entry.get("response") or {}).get("logprobs"):
            out[str(entry["id"])] = entry["response"]
    return out


def prefix(logprobs: dict, k: int) -> dict:
    """The logprobs of the first k tokens, as the streaming cascade holds them."""
    return {"content": (logprobs.get("content") or [])[:k]}


def matched(conf: np.ndarray, whole: np.ndarray, strong: np.ndarray, small: np.ndarray) -> dict:
    """A prefix threshold that escalates the same share as the whole answer does (`whole`: its
    decisions), and how that prefix cascade decides and scores."""
    share = float(np.mean(whole))
    cut = float(np.quantile(conf, share)) if 0 < share < 1 else (float("inf") if share else float("-inf"))
    escalate = conf < cut
    return {
        "matched_threshold": cut,
        "matched_agrees": float(np.mean(escalate == whole)),
        "matched_quality": float(np.mean(np.where(escalate, strong, small))),
    }


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks = [np.argsort(np.argsort(x, kind="stable"), kind="stable") for x in (a, b)]
    return float(np.corrcoef(*ranks)[0, 1])


def measure(
    answers: dict[str, dict], rows: dict[str, dict], gold: dict[str, str], large: str, ks: list[int], threshold: float
) -> dict:
    ids = sorted(i for i in answers if i in rows and i in gold and large in rows[i].get("scores", {}))
    grade = GRADERS["mc_letter"].grade
    small = np.array([grade(answers[i]["content"], gold[i], rows[i]["prompt"]) for i in ids])
    strong = np.array([float(rows[i]["scores"][large]) for i in ids])
    lengths = np.array([len(answers[i]["logprobs"].get("content") or []) for i in ids])
    results, serving = [], {}
    for k in [*ks, None]:
        for name, fn in LOGPROB_SIGNALS.items():
            conf = [fn(answers[i]["logprobs"] if k is None else prefix(answers[i]["logprobs"], k)) for i in ids]
            res = evaluate_signal(name, conf, small, strong, boots=200 if k is None else 0)
            row = {"k": k, "signal": name, "auroc": res.auroc, "apgr": res.apgr, "missing": res.missing}
            if k is None:  # bootstrap 95% intervals of the whole answer's values
                row["auroc_ci"], row["apgr_ci"] = res.auroc_ci, res.apgr_ci
            results.append(row)
            if name == SERVING_SIGNAL:
                serving[k] = np.array([-1.0 if v is None else v for v in conf])
    at_threshold = []
    for k, conf in serving.items():
        escalate, whole = conf < threshold, serving[None] < threshold
        at_threshold.append(
            {
                "k": k,
                "escalated": float(np.mean(escalate)),
                "quality": float(np.mean(np.where(escalate, strong, small))),
                "agrees_with_whole": float(np.mean(escalate == whole)),
                "spearman_with_whole": spearman(conf, serving[None]),
                "ends_within_k": float(np.mean(lengths <= k)) if k else 1.0,
                **matched(conf, whole, strong, small),
            }
        )
    return {
        "n": len(ids),
        "small_accuracy": float(small.mean()),
        "large_accuracy": float(strong.mean()),
        "median_tokens": float(np.median(lengths)),
        "threshold": threshold,
        "rows": results,
        "at_threshold": at_threshold,
    }


def render(data: dict, args) -> str:
    ks = sorted({r["k"] for r in data["rows"] if r["k"] is not None})
    cell = {(r["signal"], r["k"]): r for r in data["rows"]}
    signals = list(dict.fromkeys(r["signal"] for r in data["rows"]))

    def pivot(metric: str) -> str:
        rows = [
            [
                name,
                *(f"{cell[name, k][metric]:.3f}" for k in ks),
                "{:.3f} [{:.3f}, {:.3f}]".format(cell[name, None][metric], *cell[name, None][metric + "_ci"]),
            ]
            for name in signals
        ]
        return markdown_table(["signal", *(f"k={k}" for k in ks), "whole answer [95% CI]"], rows)

    def k_name(k):
        return "whole" if k is None else str(k)

    thr_rows = [
        [
            k_name(r["k"]),
            f"{100 * r['ends_within_k']:.0f}%",
            f"{r['spearman_with_whole']:.2f}",
            f"{100 * r['agrees_with_whole']:.1f}%",
            f"{100 * r['escalated']:.1f}%",
            f"{r['quality']:.3f}",
            f"{r['matched_threshold']:.3f}",
            f"{100 * r['matched_agrees']:.1f}%",
            f"{r['matched_quality']:.3f}",
        ]
        for r in data["at_threshold"]
    ]
    return (
        f"The real small tier (SmolLM2-135M-Instruct on vLLM CPU) on {data['n']} MMLU questions "
        f"(the cascade evaluation's stratified sample and answer cache: greedy answers with token "
        f"logprobs, median {data['median_tokens']:.0f} tokens); small accuracy {data['small_accuracy']:.3f} "
        f"(4 options: chance is 0.25), recorded {args.large} {data['large_accuracy']:.3f}. Each signal "
        f"is computed on the first k tokens of the answer (what the streaming cascade holds) and judged "
        f"against the grade of the whole answer. Within this one dataset; it says nothing of other "
        f'traffic.\n\nAUROC for "the small answer is right":\n\n{pivot("auroc")}\n\n'
        f"Cascade APGR against {args.large}:\n\n{pivot('apgr')}\n\n"
        f"The cascade policy's default signal `{SERVING_SIGNAL}` at its default threshold {data['threshold']} "
        f'(a serve config may set others; the CPU default\'s are in "Operating point of the shipped default"): '
        f"how often a k-token prefix makes the same keep/escalate decision as the whole answer (the buffered "
        f"cascade), and what that does to the escalation share and quality; then the prefix threshold "
        f"that escalates the same share as the whole answer, and how that one decides:\n\n"
        + markdown_table(
            [
                "k",
                "answers ending within k",
                "Spearman with whole",
                "same decision as whole",
                "escalated",
                "quality",
                "threshold for the whole answer's share",
                "same decision there",
                "quality there",
            ],
            thr_rows,
        )
        + "\n"
    )


def markdown_from_result(data: dict) -> str:
    """The section's text again from a stored result (no measuring): `python -m bench.rerender prefix_curve`."""
    from bench.rerender import recorded_args

    return render(data, recorded_args(data, parser()))


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache",
        default=str(cache_dir("cascade", "answers.jsonl")),
        help="eval-cascade's answer cache (default: its own default cache)",
    )
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/routellm_mmlu.jsonl"))
    parser.add_argument("--gold", default=str(ROOT.parent / "shared/data/mmlu_gold.jsonl"))
    parser.add_argument("--large", default="gpt-4-1106-preview", help="recorded large model")
    parser.add_argument("--ks", default="1,2,3,4,6,8,12,16", help="prefix lengths (tokens)")
    common_args(parser)
    return parser


def main() -> int:
    args = parser().parse_args()
    rows = {str(r["id"]): r for r in map(json.loads, Path(args.data).open()) if r}
    gold = GRADERS["mc_letter"].load_references(args.gold)
    data = measure(
        load_answers(Path(args.cache)),
        rows,
        gold,
        args.large,
        [int(k) for k in args.ks.split(",")],
        CascadePolicy().threshold,
    )
    return finish(
        args,
        "prefix_curve",
        "Streaming cascade: prefix confidence on real answers (SmolLM2-135M, MMLU)",
        render(data, args),
        data,
    )


if __name__ == "__main__":
    raise SystemExit(main())
