"""The judge's instructions (MT-Bench's pairwise and single-answer grading prompts, asking for JSON
instead of "[[A]]" / "[[rating]]") and the chat bodies that carry them.

Every body asks for structured output (`response_format: json_schema`), which vLLM enforces while
decoding, so a real engine always returns the schema's shape; endpoints that ignore it are parsed
defensively (see `verdict.py`).
"""

from typing import Any

from serve_app.judging.verdict import GRADED, PAIRWISE, SCHEMAS

PAIRWISE_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI "
    "assistants to the user question displayed below. You should choose the assistant that follows "
    "the user's instructions and answers the user's question better. Your evaluation should consider "
    "factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of "
    "their responses. Avoid any position biases and ensure that the order in which the responses were "
    "presented does not influence your decision. Do not allow the length of the responses to influence "
    "your evaluation. Be as objective as possible. Reply only with a JSON object: "
    '{"winner": "A"} if assistant A is better, {"winner": "B"} if assistant B is better, '
    '{"winner": "tie"} for a tie.'
)
GRADED_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. Your evaluation should consider factors such as "
    "the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Be as "
    "objective as possible. Rate the response on a scale of 1 to 10 and reply only with a JSON object "
    'such as {"rating": 5}.'
)
PAIRWISE_USER = (
    "[User Question]\n{question}\n\n"
    "[The Start of Assistant A's Answer]\n{answer_a}\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n{answer_b}\n[The End of Assistant B's Answer]"
)
GRADED_USER = "[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]"


def clip(text: str, max_chars: int) -> str:
    """At most `max_chars` characters (the judge's context window is finite)."""
    return text if len(text) <= max_chars else text[:max_chars] + " [...]"


def _body(system: str, user: str, mode: str, max_tokens: int) -> dict[str, Any]:
    name, schema = SCHEMAS[mode]
    return {
        "model": "judge",  # replaced by the judge client (tier name or endpoint model)
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": False,
        "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}},
    }


def judge_bodies(
    mode: str, question: str, small: str, large: str, max_chars: int, max_tokens: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two judge calls of one pair. Pairwise: (small shown first, large shown first);
    graded: (small's answer, large's answer)."""
    q, sm, lg = (clip(t, max_chars) for t in (question, small, large))
    if mode == PAIRWISE:
        first, second = (
            _body(PAIRWISE_SYSTEM, PAIRWISE_USER.format(question=q, answer_a=a, answer_b=b), mode, max_tokens)
            for a, b in ((sm, lg), (lg, sm))
        )
        return first, second
    if mode == GRADED:
        first, second = (
            _body(GRADED_SYSTEM, GRADED_USER.format(question=q, answer=a), mode, max_tokens) for a in (sm, lg)
        )
        return first, second
    raise ValueError(f"unknown judge mode {mode!r}")
