"""Graders: is a model's answer to a labelled prompt acceptable? A registry of named graders, each
`grade(answer_text, reference) -> 1.0 | 0.0`, plus the readers of their reference files.

`mc_letter` grades multiple-choice answers (MMLU's "A. ... D. ...\nAnswer:" prompts): the chosen
letter is read from the answer and compared with the gold letter (`../shared/data/mmlu_gold.jsonl`,
`{"id", "answer"}`, matched by id). An answer with no readable letter is wrong.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

LETTERS = "ABCD"
# "B", "B.", "(B)", "B) text", "B: text" at the very start of the answer
_LEADING = re.compile(r"^\(?([A-D])\)?(?:[.):,]|\s*$)")
# "B 4" (a letter then a word that is not lower case, so "A good answer" is not read as A)
_LEADING_WORD = re.compile(r"^([A-D])\s+(?![a-z])")
# "The answer is B", "answer: (C)", "Answer: D."
_STATED = re.compile(r"\banswer(?: is)?\s*:?\s*\(?([A-D])\b", re.IGNORECASE)
# "A. text" lines of the prompt's options
_OPTION = re.compile(r"^([A-D])\.\s*(.*\S)\s*$", re.MULTILINE)


def prompt_options(prompt: str) -> dict[str, str]:
    """{letter: option text} read from the prompt's "A. ..." lines."""
    return {m.group(1): m.group(2) for m in _OPTION.finditer(prompt or "")}


def chosen_letter(answer: Optional[str], prompt: str = "") -> Optional[str]:
    """The option letter an answer picks, or None when it picks none readably."""
    text = (answer or "").strip()
    if not text:
        return None
    for pattern in (_LEADING, _LEADING_WORD, _STATED):
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    # the answer repeats one option's text (and only one option's) at its start
    options = prompt_options(prompt)
    hits = [letter for letter, option in options.items() if text.lower().startswith(option.lower()) and len(option) > 0]
    return hits[0] if len(hits) == 1 else None


@dataclass(frozen=True)
class Grader:
    """A named grader: how to read its references and how to grade one answer."""

    name: str
    description: str
    grade: Callable[[Optional[str], str, str], float]  # (answer, reference, prompt) -> 0..1
    load_references: Callable[[str], dict[str, str]]  # path -> {id: reference}


def _grade_mc_letter(answer: Optional[str], reference: str, prompt: str) -> float:
    return 1.0 if chosen_letter(answer, prompt) == reference.strip().upper() else 0.0


def load_gold_letters(path: str) -> dict[str, str]:
    """{id: gold letter} from a JSONL of {"id", "answer"} rows."""
    gold: dict[str, str] = {}
    with open(Path(path), encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            letter = str(row.get("answer", "")).strip().upper()
            if letter not in LETTERS or "id" not in row:
                raise ValueError(f"{path}:{number}: expected {{'id', 'answer': one of {LETTERS}}}")
            gold[str(row["id"])] = letter
    return gold


GRADERS: dict[str, Grader] = {
    "mc_letter": Grader(
        "mc_letter",
        "multiple choice: the answer's option letter equals the gold letter",
        _grade_mc_letter,
        load_gold_letters,
    ),
}


def get_grader(name: str) -> Grader:
    if name not in GRADERS:
        raise ValueError(f"unknown grader {name!r}; known: {', '.join(sorted(GRADERS))}")
    return GRADERS[name]
