"""What `tune` prints and plots: the chosen operating point, its intervals, and how the share
reaching large splits into routed and escalated per set."""

from pathlib import Path

import numpy as np

from serve_app.evaluation.joint import OperatingPoint
from serve_app.evaluation.tune import TuneSet, mix_point, set_outcome
from serve_app.evaluation.written_thresholds import written_pair


def _round(x, digits=4):
    return None if x is None else round(float(x), digits)


def written_point(sets: list[TuneSet], point: OperatingPoint) -> OperatingPoint:
    """The chosen point at the thresholds as written (4 decimals where that decides every prompt
    of the sets as the chosen thresholds do, else exact), evaluated there: the point printed is
    the point written."""
    route = np.concatenate([s.route for s in sets])
    confidence = np.concatenate([s.confidence for s in sets])
    t_route, t_conf = written_pair(route, confidence, point.route_threshold, point.cascade_threshold)
    return mix_point(sets, t_route, t_conf)


def summary(sets: list[TuneSet], chosen: OperatingPoint, intervals: dict, method: str, strategy: str, args) -> dict:
    """Thresholds as written (not rounded further) and every number evaluated at them."""
    point = written_point(sets, chosen)
    per_set = {}
    for s in sets:
        o = set_outcome(s, point.route_threshold, point.cascade_threshold)
        per_set[s.name] = {
            "prompts": len(s.route),
            "weight": s.weight,
            "share_to_large": _round(o.share),
            "routed": _round(o.routed),
            "escalated": _round(o.escalated),
            "quality": _round(o.quality),
        }
    return {
        "strategy": strategy,
        "method": method,
        "goal": {"target_share": args.target_share}
        if args.target_share is not None
        else {"quality_floor": args.quality_floor},
        "route_threshold": point.route_threshold,
        "cascade_threshold": None if getattr(args, "no_cascade", False) else point.cascade_threshold,
        "share_to_large": _round(point.share),
        "routed": _round(point.routed),
        "escalated": _round(point.escalated),
        "share_95ci": [_round(v) for v in intervals["share"]],
        "quality": _round(point.quality),
        "quality_95ci": [_round(v) for v in intervals["quality"]] if "quality" in intervals else None,
        "mix": ("equal weight per set" if len({s.weight for s in sets}) == 1 else "weighted")
        + ("; the target holds for each set" if getattr(args, "each_set", False) else ""),
        "sets": per_set,
        "note": "share is over the mix of sets; quality over the labelled sets only; intervals are bootstrap "
        "95% at the chosen thresholds and leave out the optimism of choosing them on the same data",
    }


def plot(curves: dict[str, list[OperatingPoint]], point: OperatingPoint, sets: list[TuneSet], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from serve_app.evaluation.tune import mix_point

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        ax.plot(
            [p.share for p in points],
            [p.quality for p in points],
            label=name,
            linestyle="-" if name == "router + cascade" else "--",
        )
    labelled = [s for s in sets if s.labelled]
    if labelled:
        here = mix_point(labelled, point.route_threshold, point.cascade_threshold)
        ax.scatter(
            [here.share],
            [here.quality],
            color="black",
            zorder=5,
            label=f"chosen (route {point.route_threshold:.2f}, cascade {point.cascade_threshold:.3f})",
        )
    ax.set_xlabel("share of labelled traffic reaching the large model (routed + escalated)")
    ax.set_ylabel("quality")
    ax.set_title("joint operating point: " + ", ".join(s.name for s in labelled), fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
