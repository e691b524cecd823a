"""The BENCHMARKS.md sections written by `eval-cascade --benchmarks` and `tune --benchmarks`: the
numbers, the command that made them, the machine, and what they do and do not show."""

import datetime
import os
import platform
import shlex
import sys
from pathlib import Path

from serve_app.evaluation.cascade_eval import CascadeEvaluation
from serve_app.evaluation.cascade_report import markdown_table
from serve_app.markdown_section import write_section as write_marked

CASCADE_SECTION = ("cascade", "## Cascade on real answers (CPU small tier)", "tier-router eval-cascade --benchmarks")
TUNE_SECTION = ("tune", "## Operating point of the shipped default (tune)", "tier-router tune --benchmarks")


def command_line() -> str:
    return "tier-router " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.machine()}, {os.cpu_count()} logical cores (1-min load average {load:.1f}; other work "
        f"shares this machine), Python {platform.python_version()}, "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}"
    )


def _reading(evaluation: CascadeEvaluation) -> str:
    model = next(iter(evaluation.results))
    results = evaluation.results[model]
    best = max(results, key=lambda r: r.auroc)
    best_apgr = max(results, key=lambda r: r.apgr)
    small = evaluation.small_quality
    by = {r.signal: r for r in results}
    extra = []
    if "self_assessment" in by:
        extra.append(
            f"Asking for a self-assessment also changes the answer: its `content` was right on "
            f"{100 * by['self_assessment'].small_quality:.1f}% of the questions, against {100 * small:.1f}% "
            "for the plain answer, so that method costs quality before any escalation."
        )
    if "agreement" in by and evaluation.rows["agreement"] < len(evaluation.records):
        extra.append(
            f"`agreement` was measured on only {evaluation.rows['agreement']} of {len(evaluation.records)} "
            "questions (the sampled answers were still being collected; the first subjects "
            "alphabetically), so its row is not comparable with the others."
        )
    return (
        "**What this shows, and what it does not.** The small tier answered "
        f"{100 * small:.1f}% of these four-option questions right, against 25% for a blind guess: "
        "SmolLM2-135M is at or below chance on MMLU, so here the cascade mostly decides how much of the "
        "large model's quality to buy back, not whether to trust a good small model. The best signal by "
        f"AUROC was `{best.signal}` ({best.auroc:.3f}, 95% CI {best.auroc_ci[0]:.2f}-{best.auroc_ci[1]:.2f}); "
        f"the best cascade APGR was `{best_apgr.signal}` ({best_apgr.apgr:.3f}, CI "
        f"{best_apgr.apgr_ci[0]:.2f}-{best_apgr.apgr_ci[1]:.2f}) against 0.5 for escalating at random. "
        "An interval that includes 0.5 means that signal is not distinguishable from chance on this sample. "
        + " ".join(extra)
        + " These numbers hold for this model, this prompt format (zero-shot MMLU question as the user "
        "message, greedy decoding, at most the stated tokens) and this sample; they say nothing about a "
        "larger small model (the GPU profile's Llama-3.1-8B was not measured here), about open-ended "
        "chat, or about answers sampled at temperature 1 (whose token probabilities are far lower). The "
        "large models' scores are recorded ones (RouteLLM's GPT-4 and Mixtral answers), not answers of "
        "this project's large tier. `calibrated` is cross-fitted: each answer is scored by weights "
        "fitted on the other folds; the weights shipped for serving are fitted on all rows of this sample."
    )


def cascade_section(evaluation: CascadeEvaluation, md: str, images: list[Path], root: Path) -> str:
    pictures = "\n".join(
        f"![{p.stem}]({p.relative_to(root).as_posix() if p.is_absolute() else p.as_posix()})" for p in images
    )
    return (
        f"Command: `{command_line()}`  \nMachine: {machine()}\n\n{md.strip()}\n\n{pictures}\n\n{_reading(evaluation)}\n"
    )


def tune_section(result: dict, image: Path | None) -> str:
    rows = [
        [
            name,
            s["prompts"],
            f"{100 * s['share_to_large']:.1f}%",
            f"{100 * s['routed']:.1f}%",
            f"{100 * s['escalated']:.1f}%",
            "-" if s["quality"] is None else f"{s['quality']:.3f}",
        ]
        for name, s in result["sets"].items()
    ]
    table = markdown_table(["set", "prompts", "reaches large", "routed", "escalated", "quality"], rows)
    goal = (
        f"at most {100 * result['goal']['target_share']:.0f}% of traffic reaching large"
        if "target_share" in result["goal"]
        else f"quality at least {result['goal']['quality_floor']}"
    )
    q = result["quality"]
    quality = (
        ""
        if q is None
        else (
            f"; quality on the labelled set {q:.3f} (95% CI {result['quality_95ci'][0]:.3f}-"
            f"{result['quality_95ci'][1]:.3f})"
        )
    )
    picture = f"\n\n![joint curve]({image.as_posix()})" if image else ""
    cascade = "off (route_only)" if result["cascade_threshold"] is None else result["cascade_threshold"]
    return (
        f"Command: `{command_line()}`  \nMachine: {machine()}\n\n"
        f"Goal: {goal}; router `{result['strategy']}`, cascade method `{result['method']}`. Chosen: route "
        f"threshold **{result['route_threshold']}**, cascade threshold **{cascade}**. "
        f"Expected share reaching large on the mix ({result['mix']}): {100 * result['share_to_large']:.1f}% "
        f"(95% CI {100 * result['share_95ci'][0]:.1f}-{100 * result['share_95ci'][1]:.1f}%), of which "
        f"{100 * result['routed']:.1f}% routed and {100 * result['escalated']:.1f}% escalated{quality}.\n\n"
        f"{table}\n\nIntervals are bootstrap 95% at the chosen thresholds; they leave out the optimism of "
        f"choosing the thresholds on the same data.{picture}\n"
    )


def write_section(path: str, section: tuple[str, str, str], body: str) -> None:
    """Rewrite one generated section (between its markers) of a Markdown file."""
    name, heading, generator = section
    write_marked(path, name, f"{heading}\n\n{body}", generator)
