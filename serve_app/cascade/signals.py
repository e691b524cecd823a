"""Confidence signals of one small-tier answer, computed from what the engine returns.

Each signal is a pure function of an OpenAI `choices[i].logprobs` object (dict form, requested
with `logprobs: true, top_logprobs: k`) or of answer texts, returning a number in [0, 1] where
higher means "more likely right", or None when it cannot be computed (None always escalates).
`LOGPROB_SIGNALS` names those that need only the answer's own logprobs, so a serving cascade can
compute them from the one small call it already makes.
"""

import math
import re
from typing import Any, Callable, Optional

FLOOR = -100.0  # logprob floor: -inf and huge negatives would swamp means


def token_logprobs(logprobs: Any) -> Optional[list[tuple[float, list[float]]]]:
    """[(chosen token's logprob, top alternatives' logprobs sorted high to low)] per token, or
    None when absent, empty or not numbers."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        return None
    tokens = []
    for token in content:
        lp = token.get("logprob") if isinstance(token, dict) else None
        if isinstance(lp, bool) or not isinstance(lp, (int, float)) or math.isnan(lp):
            return None
        alts = sorted(
            (
                max(float(t["logprob"]), FLOOR)
                for t in token.get("top_logprobs") or []
                if isinstance(t, dict) and isinstance(t.get("logprob"), (int, float)) and not math.isnan(t["logprob"])
            ),
            reverse=True,
        )
        tokens.append((max(float(lp), FLOOR), alts))
    return tokens


def _margin(chosen: float, alts: list[float]) -> float:
    """p(top1) - p(top2) of one position (the chosen token stands in for a missing top list)."""
    p1 = math.exp(alts[0]) if alts else math.exp(chosen)
    p2 = math.exp(alts[1]) if len(alts) > 1 else 0.0
    return max(0.0, p1 - p2)


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def mean_prob(logprobs: Any) -> Optional[float]:
    """exp(mean token logprob): the answer's per-token geometric-mean probability."""
    tokens = token_logprobs(logprobs)
    return None if tokens is None else _clip(math.exp(sum(lp for lp, _ in tokens) / len(tokens)))


def min_prob(logprobs: Any) -> Optional[float]:
    """Probability of the answer's least likely token (its weakest step)."""
    tokens = token_logprobs(logprobs)
    return None if tokens is None else _clip(math.exp(min(lp for lp, _ in tokens)))


def mean_margin(logprobs: Any) -> Optional[float]:
    """Mean over tokens of p(top1) - p(top2)."""
    tokens = token_logprobs(logprobs)
    return None if tokens is None else _clip(sum(_margin(lp, alts) for lp, alts in tokens) / len(tokens))


def _lead(logprobs: Any, count: int) -> Optional[list[tuple[float, list[float]]]]:
    """The first `count` tokens after leading whitespace-only tokens (the answer's opening)."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens = token_logprobs(logprobs)
    if tokens is None:
        return None
    start = 0
    while start < len(tokens) - 1 and not str(content[start].get("token", "x")).strip():
        start += 1
    return tokens[start : start + count]


def first_prob(logprobs: Any) -> Optional[float]:
    """Probability of the answer's first (non-blank) token: for a multiple-choice answer, the
    probability of the chosen letter."""
    lead = _lead(logprobs, 1)
    return None if not lead else _clip(math.exp(lead[0][0]))


def first_margin(logprobs: Any) -> Optional[float]:
    """p(top1) - p(top2) at the answer's first (non-blank) token."""
    lead = _lead(logprobs, 1)
    return None if not lead else _clip(_margin(*lead[0]))


def lead3_prob(logprobs: Any) -> Optional[float]:
    """exp(mean logprob) of the answer's first three (non-blank) tokens."""
    lead = _lead(logprobs, 3)
    return None if not lead else _clip(math.exp(sum(lp for lp, _ in lead) / len(lead)))


def blended(logprobs: Any, weight: float = 0.5) -> Optional[float]:
    """The original `logprobs` method: weight * mean_prob + (1 - weight) * mean_margin."""
    prob, margin = mean_prob(logprobs), mean_margin(logprobs)
    return None if prob is None or margin is None else _clip(weight * prob + (1.0 - weight) * margin)


_WORD = re.compile(r"\w+")


def agreement(first: Optional[str], second: Optional[str]) -> Optional[float]:
    """Token-overlap F1 of two answers to the same prompt (1 = same words): self-consistency."""
    if first is None or second is None:
        return None
    a, b = _WORD.findall(first.lower()), _WORD.findall(second.lower())
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    common = sum(min(a.count(w), b.count(w)) for w in set(a))
    if not common:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


LOGPROB_SIGNALS: dict[str, Callable[[Any], Optional[float]]] = {
    "logprobs": blended,
    "mean_prob": mean_prob,
    "min_prob": min_prob,
    "mean_margin": mean_margin,
    "first_prob": first_prob,
    "first_margin": first_margin,
    "lead3_prob": lead3_prob,
}


def logprob_features(logprobs: Any) -> Optional[dict[str, float]]:
    """Every logprob signal of one answer plus its length, or None without logprobs: the inputs
    of a calibrated combination."""
    tokens = token_logprobs(logprobs)
    if tokens is None:
        return None
    values = {name: fn(logprobs) for name, fn in LOGPROB_SIGNALS.items()}
    if any(v is None for v in values.values()):
        return None
    return {**values, "log_tokens": math.log(len(tokens))}
