"""Tables, JSON and plots of a cascade evaluation (signals) next to prompt-only routers."""

import json
from pathlib import Path
from typing import Optional

import numpy as np

from serve_app.evaluation.cascade_eval import SERVABLE, CascadeEvaluation
from serve_app.evaluation.cascade_metrics import cascade_curve, evaluate_signal
from serve_app.evaluation.metrics import apgr, cpt, quality_curve


def router_rows(evaluation: CascadeEvaluation, route_scores: dict[str, np.ndarray], model: str) -> list[dict]:
    """Prompt-only routers on the same items: weak = the small tier's graded answers."""
    small = np.array([r.correct for r in evaluation.records])
    large = np.array([r.item.large_scores[model] for r in evaluation.records])
    rows = []
    for name, scores in {**route_scores, "oracle": large - small}.items():
        curve = quality_curve(scores, small, large)
        n = len(small)
        boot = evaluate_signal(name, list(-np.asarray(scores, dtype=float)), small, large)
        rows.append(
            {
                "router": name,
                "apgr": apgr(curve),
                "apgr_ci": boot.apgr_ci,
                "cpt50": cpt(curve, 0.5),
                "cpt80": cpt(curve, 0.8),
                "quality_at": {s: float(curve.quality[int(round(s * n))]) for s in (0.1, 0.3, 0.5)},
            }
        )
    return rows


HEADERS = [
    "signal / router",
    "cost to serve",
    "rows",
    "small right",
    "AUROC small right (95% CI)",
    "APGR (95% CI)",
    "CPT(50%)",
    "quality @10% large",
    "@30%",
    "@50%",
]


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{digits}f}"


def markdown(evaluation: CascadeEvaluation, route_scores: dict[str, np.ndarray], header: str) -> str:
    parts = [header]
    for model, results in evaluation.results.items():
        parts.append(
            f"\n**Large = `{model}`** (recorded scores; accuracy {evaluation.large_quality[model]:.3f}; "
            f"small tier accuracy {evaluation.small_quality:.3f} on its greedy answers). `small right` is the "
            f"accuracy of the answers a row judges (self-assessment: its own `content`; on the rows it "
            f"was measured on); quality is the mean over those rows when the given share reaches large.\n"
        )
        rows = [
            [
                f"cascade: `{r.signal}`",
                SERVABLE.get(r.signal, ""),
                evaluation.rows[r.signal],
                _fmt(r.small_quality),
                f"{_fmt(r.auroc)} ({_fmt(r.auroc_ci[0], 2)}-{_fmt(r.auroc_ci[1], 2)})",
                f"{_fmt(r.apgr)} ({_fmt(r.apgr_ci[0], 2)}-{_fmt(r.apgr_ci[1], 2)})",
                _fmt(r.cpt50, 2),
                *(_fmt(r.quality_at[s]) for s in (0.1, 0.3, 0.5)),
            ]
            for r in results
        ]
        rows += [
            [
                f"router: `{r['router']}`",
                "prompt only" if r["router"] != "oracle" else "knows the answers",
                len(evaluation.records),
                _fmt(evaluation.small_quality),
                "",
                f"{_fmt(r['apgr'])} ({_fmt(r['apgr_ci'][0], 2)}-{_fmt(r['apgr_ci'][1], 2)})",
                _fmt(r["cpt50"], 2),
                *(_fmt(r["quality_at"][s]) for s in (0.1, 0.3, 0.5)),
            ]
            for r in router_rows(evaluation, route_scores, model)
        ]
        parts.append(markdown_table(HEADERS, rows))
    return "\n".join(parts) + "\n"


def to_json(evaluation: CascadeEvaluation, route_scores: dict[str, np.ndarray], meta: dict) -> dict:
    return {
        "meta": meta,
        "small_quality": evaluation.small_quality,
        "large_quality": evaluation.large_quality,
        "rows": evaluation.rows,
        "signals": {m: [r.__dict__ for r in rs] for m, rs in evaluation.results.items()},
        "routers": {m: router_rows(evaluation, route_scores, m) for m in evaluation.results},
    }


def plot(
    evaluation: CascadeEvaluation,
    route_scores: dict[str, np.ndarray],
    model: str,
    path: Path,
    signals: Optional[list[str]] = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    records = evaluation.records
    large = np.array([r.item.large_scores[model] for r in records])
    small = np.array([r.correct for r in records])
    for result in evaluation.results[model]:
        if signals and result.signal not in signals:
            continue
        kept = [r for r in records if result.signal in r.signals]
        grades = np.array(
            [r.self_assessment_correct if result.signal == "self_assessment" else r.correct for r in kept]
        )
        curve = cascade_curve(
            [r.signals[result.signal] for r in kept], grades, np.array([r.item.large_scores[model] for r in kept])
        )
        ax.plot(curve.share, curve.quality, label=f"cascade {result.signal} ({result.apgr:.2f})")
    for name, scores in route_scores.items():
        curve = quality_curve(scores, small, large)
        ax.plot(curve.share, curve.quality, linestyle="--", label=f"router {name} ({apgr(curve):.2f})")
    ax.set_xlabel("share of traffic reaching the large model")
    ax.set_ylabel("accuracy")
    ax.set_title(f"cascade vs prompt-only routing, large = {model.split('/')[-1]} (APGR)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(
    out: Path, evaluation: CascadeEvaluation, route_scores: dict[str, np.ndarray], meta: dict, md: str
) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "cascade.json", out / "cascade.md"]
    written[0].write_text(json.dumps(to_json(evaluation, route_scores, meta), indent=1, default=str))
    written[1].write_text(md)
    for model in evaluation.results:
        path = out / f"cascade-{model.split('/')[-1]}.png"
        plot(evaluation, route_scores, model, path)
        written.append(path)
    return written
