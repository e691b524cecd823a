"""Evaluation output: a Markdown table, a JSON file, and a PNG of the curves."""

import json
import math
from pathlib import Path
from typing import Optional

from serve_app.evaluation.evaluate import BASELINES, EvalReport, RouterResult
from serve_app.evaluation.metrics import interval


def compare(router: RouterResult, base: RouterResult) -> str:
    """'beats', 'LOSES to' or 'ties' by the 95% paired-bootstrap interval of the APGR difference."""
    if router.bootstrap is None or base.bootstrap is None or len(router.scores) != len(base.scores):
        return "beats" if router.metrics["apgr"] > base.metrics["apgr"] else "LOSES to"
    lo, hi = interval(router.bootstrap - base.bootstrap)
    return "beats" if lo > 0 else "LOSES to" if hi < 0 else "ties"


def verdict(router: RouterResult, report: EvalReport) -> str:
    """How a router compares with each prompt-only baseline (95% paired bootstrap of APGR)."""
    if router.name in BASELINES + ("oracle",):
        return ""
    by = {r.name: r for r in report.routers}
    outcome: dict[str, list[str]] = {}
    for name in BASELINES:
        if name in by:
            outcome.setdefault(compare(router, by[name]), []).append(name)
    return "; ".join(f"{word} {', '.join(names)}" for word, names in outcome.items())


def apgr_cell(metrics: dict) -> str:
    lo, hi = metrics.get("apgr_ci", (math.nan, math.nan))
    no_width = math.isnan(lo) or hi - lo < 5e-4  # random: every resample ties, exactly 0.5
    return f"{metrics['apgr']:.3f}" + ("" if no_width else f" [{lo:.2f}, {hi:.2f}]")


def metrics_table(report: EvalReport) -> str:
    lines = [
        "| router | measured | APGR [95% CI] | CPT(50%) | CPT(80%) | vs prompt-only baselines |",
        "|---|---|---:|---:|---:|---|",
    ]
    best = max((r for r in report.routers if r.name != "oracle"), key=lambda r: r.metrics["apgr"])
    for r in report.routers:
        m = r.metrics
        name = f"**{r.name}**" if r is best else r.name
        lines.append(
            f"| {name} | {r.measured} | {apgr_cell(m)} | {m['cpt50']:.1%} | {m['cpt80']:.1%} | {verdict(r, report)} |"
        )
    return "\n".join(lines)


def threshold_table(report: EvalReport) -> str:
    lines = [
        f"At threshold {report.threshold:g} (large when score > threshold):",
        "",
        "| router | large share | quality | quality / strong | PGR | cost / all-large |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.routers:
        p = r.at_threshold
        if p is None:
            continue
        cost = "n/a (no --costs)" if p["cost_vs_all_large"] is None else f"{p['cost_vs_all_large']:.1%}"
        lines.append(
            f"| {r.name} | {p['strong_share']:.1%} | {p['quality']:.3f} | "
            f"{p['quality_vs_strong']:.1%} | {p['pgr']:.2f} | {cost} |"
        )
    return "\n".join(lines)


def heading(report: EvalReport) -> str:
    return (
        f"{report.dataset}: {report.protocol}; weak {report.weak_model} "
        f"(mean {report.quality_weak:.3f}) -> strong {report.strong_model} (mean {report.quality_strong:.3f})"
    )


def to_json(report: EvalReport) -> dict:
    data = {k: v for k, v in report.__dict__.items() if k != "routers"}
    data["routers"] = [
        {
            "name": r.name,
            "measured": r.measured,
            "note": verdict(r, report),
            **r.metrics,
            "at_threshold": r.at_threshold,
            "curve": r.curve,
        }
        for r in report.routers
    ]
    return data


def write_json(report: EvalReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(report), indent=1))
    return path


def plot(report: EvalReport, path: Path, title: Optional[str] = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for r in report.routers:
        style = {"random": ":", "oracle": "--"}.get(r.name, "-." if r.name.endswith("(LODO)") else "-")
        ax.plot(r.curve["share"], r.curve["pgr"], style, label=f"{r.name} (APGR {r.metrics['apgr']:.3f})")
    ax.set_xlabel("share of calls to the strong model")
    ax.set_ylabel("PGR (share of the quality gap recovered)")
    ax.set_title(title or report.dataset)
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
