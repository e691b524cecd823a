"""Time windows over recorded pairs: `--since` / `--until` bounds, and the most recent slice as the
held-out test (a router is promoted for next week's traffic, so it is tested on the newest)."""

import re
import time
from datetime import datetime, timezone
from typing import Optional, Sequence

import numpy as np

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(spec: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Epoch seconds of `spec`: an ISO date or datetime (UTC unless it names a zone), or an age
    such as `7d`, `12h`, `2w` (that long before `now`). None passes through."""
    if spec is None:
        return None
    spec = spec.strip()
    match = _RELATIVE.match(spec)
    if match:
        return (time.time() if now is None else now) - float(match.group(1)) * _UNIT_S[match.group(2)]
    try:
        moment = datetime.fromisoformat(spec)
    except ValueError:
        raise ValueError(f"time {spec!r}: expected an ISO date/datetime or an age like 7d, 12h") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def in_window(ts: float, since: Optional[float], until: Optional[float]) -> bool:
    """since <= ts < until (either bound may be open)."""
    return (since is None or ts >= since) and (until is None or ts < until)


def held_out_mask(ts: Sequence[float], test_since: Optional[float] = None, test_share: float = 0.0) -> np.ndarray:
    """Which rows are the held-out test: those at or after `test_since` when given, else the
    newest `test_share` of rows (ties in time all land on the same side)."""
    ts = np.asarray(ts, dtype=float)
    if test_since is not None:
        return ts >= test_since
    k = int(round(len(ts) * min(max(test_share, 0.0), 1.0)))
    if k == 0:
        return np.zeros(len(ts), dtype=bool)
    return ts >= np.sort(ts)[len(ts) - k]
