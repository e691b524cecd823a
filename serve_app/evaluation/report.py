"""Evaluation output: a Markdown table, a JSON file, and a PNG of the curves."""

import json
from pathlib import Path
from typing import Optional

from serve_app.evaluation.evaluate import EvalReport, RouterResult

COMPARED_WITH = ("length", "exemplar")


def verdict(router: RouterResult, report: EvalReport) -> str:
    """Whether a router beats each baseline in APGR; losses are spelled out."""
    if router.name in ("random", "oracle") + COMPARED_WITH:
        return router.note
    apgr = {r.name: r.metrics["apgr"] for r in report.routers}
    lost = [b for b in ("random",) + COMPARED_WITH if b in apgr and router.metrics["apgr"] <= apgr[b]]
    tail = f"LOSES to {', '.join(lost)}" if lost else "beats random, length, exemplar"
    return f"{router.note}; {tail}" if router.note else tail


def metrics_table(report: EvalReport) -> str:
    lines = ["| router | APGR | CPT(50%) | CPT(80%) | note |", "|---|---:|---:|---:|---|"]
    best = max((r for r in report.routers if r.name != "oracle"), key=lambda r: r.metrics["apgr"])
    for r in report.routers:
        m = r.metrics
        name = f"**{r.name}**" if r is best else r.name
        lines.append(f"| {name} | {m['apgr']:.3f} | {m['cpt50']:.1%} | {m['cpt80']:.1%} | {verdict(r, report)} |")
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
        f"{report.dataset}: {report.rows} prompts, {report.protocol}; weak {report.weak_model} "
        f"(mean {report.quality_weak:.3f}) -> strong {report.strong_model} (mean {report.quality_strong:.3f})"
    )


def to_json(report: EvalReport) -> dict:
    data = {k: v for k, v in report.__dict__.items() if k != "routers"}
    data["routers"] = [
        {"name": r.name, "note": verdict(r, report), **r.metrics, "at_threshold": r.at_threshold, "curve": r.curve}
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
        style = {"random": ":", "oracle": "--"}.get(r.name, "-")
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
