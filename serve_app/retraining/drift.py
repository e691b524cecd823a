"""Drift of small-vs-large quality: judged outcomes over time, by route-score bucket and category.

The design asks for a weekly A/B to catch drift. The number to watch is the share of judged pairs
where the small answer is not worse than the large one (small wins or ties): when it drops in a
score bucket the small tier is routed there, the router's threshold or the small model has drifted.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Optional, Sequence

DEFAULT_EDGES = (2.0, 4.0, 6.0, 8.0)
NO_SCORE = "none"
PERIODS = {"day": 86400, "week": 7 * 86400}


def score_bucket(score: Optional[float], edges: Sequence[float] = DEFAULT_EDGES) -> str:
    """`lo-hi` of the bucket holding the route score (0-10); `none` when there was no score."""
    if score is None or (isinstance(score, float) and math.isnan(score)):
        return NO_SCORE
    bounds = [0.0, *edges, 10.0]
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        if score < hi:
            return f"{lo:g}-{hi:g}"
    return f"{bounds[-2]:g}-{bounds[-1]:g}"


def period_start(ts: float, period: str) -> str:
    """ISO date of the start of the UTC day or week (Monday) holding `ts`."""
    day = datetime.fromtimestamp(ts, timezone.utc).date()
    if period == "week":
        day = day.fromordinal(day.toordinal() - day.weekday())
    elif period != "day":
        raise ValueError(f"period must be one of {sorted(PERIODS)}")
    return day.isoformat()


@dataclass(frozen=True)
class JudgedRow:
    ts: float
    outcome: str  # small | large | tie
    route_score: Optional[float] = None
    category: Optional[str] = None


@dataclass(frozen=True)
class DriftCell:
    period: str
    group: str  # bucket or category
    pairs: int
    small_not_worse: float  # share of small wins + ties
    small_wins: float
    large_wins: float


def drift_table(
    rows: Iterable[JudgedRow], by: str = "bucket", period: str = "week", edges: Sequence[float] = DEFAULT_EDGES
) -> list[DriftCell]:
    """One cell per (period, group), sorted; `by` is `bucket` or `category`."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"small": 0, "large": 0, "tie": 0})
    for row in rows:
        group = score_bucket(row.route_score, edges) if by == "bucket" else (row.category or "uncategorized")
        counts[(period_start(row.ts, period), group)][row.outcome] += 1
    cells = []
    for (when, group), c in sorted(counts.items()):
        n = sum(c.values())
        cells.append(DriftCell(when, group, n, (c["small"] + c["tie"]) / n, c["small"] / n, c["large"] / n))
    return cells


def format_table(cells: list[DriftCell], by: str) -> str:
    lines = [f"{'period':<12}{by:<16}{'pairs':>7}{'small not worse':>17}{'small wins':>12}{'large wins':>12}"]
    lines += [
        f"{c.period:<12}{c.group:<16}{c.pairs:>7}{c.small_not_worse:>17.1%}{c.small_wins:>12.1%}{c.large_wins:>12.1%}"
        for c in cells
    ]
    return "\n".join(lines)


def plot(cells: list[DriftCell], by: str, path: str) -> None:
    """Small-not-worse share per period, one line per group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    periods = sorted({c.period for c in cells})
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for group in sorted({c.group for c in cells}):
        mine = {c.period: c for c in cells if c.group == group}
        xs = [i for i, p in enumerate(periods) if p in mine]
        ax.plot(
            xs,
            [mine[periods[i]].small_not_worse for i in xs],
            marker="o",
            label=f"{group} ({sum(mine[periods[i]].pairs for i in xs)} pairs)",
        )
    ax.set_xticks(range(len(periods)), periods, rotation=30, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("judged: small answer not worse than large")
    ax.set_title(f"Small vs large over time, by {by}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
