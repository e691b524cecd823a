"""Judge verdicts: the JSON schemas the judge must follow, defensive parsing, and aggregation.

Pairwise mode asks "which answer is better, A or B (or a tie)?" twice, once with the small answer
as A and once with it as B, so a judge that favours a position cancels out (MT-Bench's protocol:
two orders that disagree count as a tie). Graded mode rates each answer alone, 1-10, so it has no
position to favour. Either way the label is the judged quality of the small answer relative to the
large one, on the dataset format's scale: `small` and `large` scores in [0, 1].

Nothing here guesses: a verdict that is not the schema's JSON is `None`, and a pair with any
unparsable verdict has no label.
"""

import json
from dataclasses import dataclass
from typing import Optional

PAIRWISE = "pairwise"
GRADED = "graded"
MODES = (PAIRWISE, GRADED)

# Orders of a pairwise comparison: which tier's answer is shown as "A".
SMALL_FIRST = "small_first"
LARGE_FIRST = "large_first"

WINNERS = ["A", "B", "tie"]
RATINGS = list(range(1, 11))
PAIRWISE_SCHEMA = {
    "type": "object",
    "properties": {"winner": {"enum": WINNERS}},
    "required": ["winner"],
    "additionalProperties": False,
}
GRADED_SCHEMA = {
    "type": "object",
    "properties": {"rating": {"enum": RATINGS}},
    "required": ["rating"],
    "additionalProperties": False,
}
SCHEMAS = {PAIRWISE: ("pairwise_verdict", PAIRWISE_SCHEMA), GRADED: ("graded_verdict", GRADED_SCHEMA)}

# Outcomes, from the small tier's point of view.
SMALL, LARGE, TIE = "small", "large", "tie"
SMALL_POINTS = {SMALL: 1.0, TIE: 0.5, LARGE: 0.0}


def _json_object(text: Optional[str]) -> Optional[dict]:
    """The JSON object in `text` (a ```json fence around it is allowed), else None."""
    if not isinstance(text, str):
        return None
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").strip()
        body = body[4:].lstrip() if body.lower().startswith("json") else body
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def parse_winner(text: Optional[str]) -> Optional[str]:
    """ "A", "B" or "tie" from a pairwise verdict; None when it is not one of them."""
    data = _json_object(text)
    value = data.get("winner") if data else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value in ("A", "B"):
        return value
    return "tie" if value.lower() == "tie" else None


def parse_rating(text: Optional[str]) -> Optional[int]:
    """An integer rating 1-10 from a graded verdict; None otherwise (never rounded or clipped)."""
    data = _json_object(text)
    value = data.get("rating") if data else None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != int(value) or int(value) not in RATINGS:
        return None
    return int(value)


def outcome_of(winner: Optional[str], order: str) -> Optional[str]:
    """The small tier's outcome (small | large | tie) of one pairwise verdict shown in `order`."""
    if winner is None:
        return None
    if winner == "tie":
        return TIE
    small_is_a = order == SMALL_FIRST
    return SMALL if (winner == "A") == small_is_a else LARGE


@dataclass(frozen=True)
class Verdict:
    """One judged pair. `outcome` and the scores are None when a verdict was unparsable."""

    mode: str
    first: Optional[str]  # pairwise: winner with the small answer first; graded: small's rating
    second: Optional[str]  # pairwise: winner with the large answer first; graded: large's rating
    outcome: Optional[str]  # small | large | tie
    small_score: Optional[float]
    large_score: Optional[float]
    consistent: Optional[bool]  # pairwise: both orders agreed; graded: None

    @property
    def parsed(self) -> bool:
        return self.outcome is not None


def pairwise_verdict(small_first_text: Optional[str], large_first_text: Optional[str]) -> Verdict:
    """Aggregate the two orders: agreement keeps the outcome, disagreement is a tie."""
    w1, w2 = parse_winner(small_first_text), parse_winner(large_first_text)
    o1, o2 = outcome_of(w1, SMALL_FIRST), outcome_of(w2, LARGE_FIRST)
    if o1 is None or o2 is None:
        return Verdict(PAIRWISE, w1, w2, None, None, None, None)
    outcome = o1 if o1 == o2 else TIE
    small = SMALL_POINTS[outcome]
    return Verdict(PAIRWISE, w1, w2, outcome, small, 1.0 - small, o1 == o2)


def graded_verdict(small_text: Optional[str], large_text: Optional[str]) -> Verdict:
    """Each answer's rating / 10; the outcome says which rated higher."""
    r_small, r_large = parse_rating(small_text), parse_rating(large_text)
    first = None if r_small is None else str(r_small)
    second = None if r_large is None else str(r_large)
    if r_small is None or r_large is None:
        return Verdict(GRADED, first, second, None, None, None, None)
    outcome = TIE if r_small == r_large else (SMALL if r_small > r_large else LARGE)
    return Verdict(GRADED, first, second, outcome, r_small / 10.0, r_large / 10.0, None)


def verdict_from_texts(mode: str, first: Optional[str], second: Optional[str]) -> Verdict:
    if mode == PAIRWISE:
        return pairwise_verdict(first, second)
    if mode == GRADED:
        return graded_verdict(first, second)
    raise ValueError(f"unknown judge mode {mode!r}; choose from {MODES}")
