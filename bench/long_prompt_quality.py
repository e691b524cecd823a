"""Benchmark: routing quality on prompts longer than MiniLM's window, per `router.long_prompts` policy.

Only texts over 254 tokens are embedded differently by the policies, so this measures exactly those:
for each shared dataset, the prompts over the window, embedded by the serving default runtime under
`truncate`, `head_tail` and `chunk_mean`, evaluated by the project's evaluation (`evaluate`, as
`tier-router eval` does): APGR of the exemplar router and of kNN/logistic trained held-out (k-fold)
on those prompts, and how many distinct embeddings the prompts get (few-shot prompts of one template
collapse to one vector when cut at 254 tokens).

    .venv/bin/python -m bench.long_prompt_quality            # full run, updates BENCHMARKS.md
    .venv/bin/python -m bench.long_prompt_quality --smoke    # small sample
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from bench.report import markdown_table
from bench.serving_report import ROOT, bench_parser, finish
from serve_app.config import RouterConfig
from serve_app.evaluation.dataset import load_labelled
from serve_app.evaluation.embeddings import EmbeddingStore
from serve_app.evaluation.evaluate import evaluate
from serve_app.routing.encoder import load_tokenizer
from serve_app.routing.long_prompts import POLICIES, WINDOW_TOKENS
from serve_app.routing.weights import packaged_minilm_path

ROUTERS = ("exemplar", "knn", "logistic")


def long_subset(data, limit: int):
    tokenizer = load_tokenizer(packaged_minilm_path())
    counts = [len(e.ids) for e in tokenizer.encode_batch(data.prompts, add_special_tokens=False)]
    over = [i for i, n in enumerate(counts) if n > WINDOW_TOKENS]
    return data.subset(np.array(over[:limit], dtype=np.int64)), len(over), len(data.prompts)


def measure(spec: dict, limit: int, folds: int) -> list[dict]:
    data = load_labelled(str(ROOT / spec["file"]), spec["weak"], spec["strong"])
    sub, over, total = long_subset(data, limit)
    rows = []
    if len(sub.prompts) < 2 * folds:
        return rows
    for policy in POLICIES:
        settings = RouterConfig(long_prompts=policy).encoder_settings()
        store = EmbeddingStore(progress=False, settings=settings)
        start = time.process_time()
        vectors = store.embed(sub.prompts, label=f"{sub.name} {policy}")
        cpu_s = time.process_time() - start
        report = evaluate(sub, store, learned=["knn", "logistic"], folds=folds, progress=False)
        apgr = {r.name: r.metrics["apgr"] for r in report.routers}
        rows.append(
            {
                "dataset": sub.name,
                "policy": policy,
                "runtime": settings.cache_id(),
                "long": len(sub.prompts),
                "over": over,
                "total": total,
                "distinct": len(np.unique(vectors.round(5), axis=0)),
                "embed_cpu_s": cpu_s,
                **{r: apgr.get(r) for r in ROUTERS},
                "random": apgr.get("random"),
            }
        )
        print(
            f"  {sub.name} {policy}: " + "  ".join(f"{r} {apgr.get(r, float('nan')):.3f}" for r in ROUTERS), flush=True
        )
    return rows


def render(rows: list[dict]) -> str:
    table = markdown_table(
        [
            "dataset",
            "over window / all rows",
            "measured",
            "policy",
            "distinct embeddings",
            *[f"APGR {r}" for r in ROUTERS],
        ],
        [
            [
                r["dataset"],
                f"{r['over']} / {r['total']}",
                r["long"],
                r["policy"],
                r["distinct"],
                *[f"{r[k]:.3f}" if r[k] is not None else "-" for k in ROUTERS],
            ]
            for r in rows
        ],
    )
    runtime = rows[0]["runtime"].split("|")[1] if rows else "-"
    means = {p: np.mean([r[k] for r in rows if r["policy"] == p for k in ROUTERS]) for p in POLICIES}
    summary = ", ".join(f"{p} {v:.3f}" for p, v in means.items())
    return (
        f"Prompts over MiniLM's 254-token window only (the only prompts the policies treat differently; "
        f"the first `measured` of them in file order), embedded by `{runtime}`; APGR by the project's "
        "evaluation on that subset (kNN and logistic trained held-out on it, k-fold); within one dataset, "
        "not across datasets. `distinct embeddings` < measured: prompts cut to the same first 254 tokens "
        f"collapsed to one vector.\n\n{table}\n\nMean APGR over the cells: {summary}. With a few hundred "
        "prompts per set, differences of a few hundredths are within noise."
    )


def main(argv=None) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    p = bench_parser(__doc__)
    p.add_argument("--suite", default=str(ROOT / "bench" / "suite.yaml"), help="datasets and model pairs")
    p.add_argument("--limit", type=int, default=2000, help="most long prompts per dataset")
    args = p.parse_args(argv)
    folds = 2 if args.smoke else 5
    limit = 12 if args.smoke else args.limit
    suite = yaml.safe_load(Path(args.suite).read_text())
    rows = [r for spec in suite["datasets"] if (ROOT / spec["file"]).exists() for r in measure(spec, limit, folds)]
    return finish(args, "long_prompts", "Long prompts: quality per policy", render(rows), {"rows": rows})


if __name__ == "__main__":
    sys.exit(main())
