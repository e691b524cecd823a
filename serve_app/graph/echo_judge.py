"""How the echo engine answers judge requests (tests only; see `serve_app/judging/prompts.py`).

Echo answers start with `[<tier>]`, so the engine can tell which shown answer came from which tier.
Hooks in the judged question: `__echo_prefer_<small|large|tie>__` makes a pairwise verdict pick
that tier's answer in either order (a consistent judge); `__echo_prefer_first__` always picks "A"
(a position-biased judge); `__echo_rate_<small|large>_<1-10>__` sets a graded rating (default 5).
"""

import json
import re
from typing import Any, Optional

PREFER = re.compile(r"__echo_prefer_(small|large|tie|first)__")
RATE = re.compile(r"__echo_rate_(small|large)_(\d+)__")
SLOT = "[The Start of Assistant {}'s Answer]\n"
GRADED_SLOT = "[The Start of Assistant's Answer]\n"


def _slot_tier(text: str, marker: str) -> Optional[str]:
    """The tier whose echo answer follows `marker` in the judge prompt."""
    start = text.find(marker)
    if start < 0:
        return None
    match = re.match(r"\[(small|large)\]", text[start + len(marker) :])
    return match.group(1) if match else None


def _winner(text: str) -> str:
    match = PREFER.search(text)
    preferred = match.group(1) if match else "tie"
    if preferred in ("tie", "first"):
        return "A" if preferred == "first" else "tie"
    if _slot_tier(text, SLOT.format("A")) == preferred:
        return "A"
    return "B" if _slot_tier(text, SLOT.format("B")) == preferred else "tie"


def _rating(text: str) -> int:
    tier = _slot_tier(text, GRADED_SLOT)
    ratings = {t: int(n) for t, n in RATE.findall(text)}
    return ratings.get(tier, 5)


def judge_answer(text: str, schema: Optional[dict[str, Any]]) -> Optional[str]:
    """The JSON verdict for a judge schema (`winner` or `rating`), else None (not a judge request)."""
    properties = (schema or {}).get("properties") or {}
    if "winner" in properties:
        return json.dumps({"winner": _winner(text)})
    if "rating" in properties:
        return json.dumps({"rating": _rating(text)})
    return None
