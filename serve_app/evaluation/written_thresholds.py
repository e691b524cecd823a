"""The threshold value a command writes into the config: short, and deciding as evaluated.

A chosen threshold often sits a hair from a data value (the search's edge candidates are a data
value +/- 1e-9), so plain rounding can move it across that value and the written config would make
other decisions than the ones measured. `written` rounds to `digits` decimals toward whichever side
keeps every data value on the side it was on (the nearest such value first), and keeps the exact
value when no value with `digits` decimals separates the data the same way. The comparisons are
serving's: routed large when score > threshold, escalated when confidence < threshold.
"""

import math

import numpy as np

DIGITS = 4


def _sides(values: np.ndarray, threshold: float, above: bool) -> np.ndarray:
    return values > threshold if above else values < threshold


def written(threshold: float, values, above: bool, digits: int = DIGITS) -> float:
    """`threshold` rounded to `digits` decimals when that makes the same decision on every one of
    `values` (`above`: value > threshold, a route threshold; else value < threshold, a cascade
    threshold), else `threshold` itself. A threshold >= 0 stays >= 0 (the cascade's range), one
    within 0-10 stays within it (the router's)."""
    t = float(threshold)
    if not math.isfinite(t):
        return t
    values = np.asarray(values, dtype=float)
    scale = 10**digits
    down, up = round(math.floor(t * scale) / scale, digits), round(math.ceil(t * scale) / scale, digits)
    decided = _sides(values, t, above)
    for r in sorted({down, up}, key=lambda r: (abs(r - t), r)):
        if np.array_equal(_sides(values, r, above), decided):
            return r
    return t


def written_pair(route_values, confidence_values, t_route: float, t_conf: float) -> tuple[float, float]:
    """(route threshold, cascade threshold) as written, each deciding as evaluated on its values."""
    return written(t_route, route_values, above=True), written(t_conf, confidence_values, above=False)
