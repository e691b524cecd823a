"""Prompts longer than MiniLM's window: which token windows are embedded, and how they combine.

all-MiniLM-L6-v2 sees at most 256 positions: [CLS], 254 text tokens, [SEP]. A longer scored text
is never cut silently; the policy (`router.long_prompts`) decides:

- `truncate`: the first 254 tokens only (what sentence-transformers does; kept for comparison).
- `head_tail`: one window of the first `HEAD_SHARE` of the window and the last tokens (the
  instruction usually opens a prompt and the question closes it; one encoder call).
- `chunk_mean`: consecutive windows covering every token, embedded separately; the text's
  embedding is their token-weighted mean (re-normalised), so every token counts once.

Pure logic on token-id lists; the encoder adds the special tokens and runs the model.
"""

from dataclasses import dataclass
from typing import Literal, Sequence

LongPromptPolicy = Literal["truncate", "head_tail", "chunk_mean"]
POLICIES: tuple[str, ...] = ("truncate", "head_tail", "chunk_mean")
WINDOW_TOKENS = 254  # 256 positions minus [CLS] and [SEP]
HEAD_SHARE = 0.5  # head_tail: share of the window given to the start of the text
MAX_CHUNKS = 16  # chunk_mean: a bound on work per text (4,064 tokens); beyond it, chunks are sampled evenly


@dataclass(frozen=True)
class Window:
    """Token ids of one encoder call for a text, and its weight in the text's embedding."""

    ids: tuple[int, ...]
    weight: float


def windows(ids: Sequence[int], policy: LongPromptPolicy, size: int = WINDOW_TOKENS) -> list[Window]:
    """The windows a text of `ids` (no special tokens) is embedded as under `policy`."""
    if size < 2:
        raise ValueError("window size must be at least 2 tokens")
    ids = tuple(ids)
    if len(ids) <= size:
        return [Window(ids, 1.0)]
    if policy == "truncate":
        return [Window(ids[:size], 1.0)]
    if policy == "head_tail":
        head = max(1, int(size * HEAD_SHARE))
        return [Window(ids[:head] + ids[len(ids) - (size - head) :], 1.0)]
    if policy == "chunk_mean":
        return _chunks(ids, size)
    raise ValueError(f"unknown long-prompt policy {policy!r}; one of {', '.join(POLICIES)}")


def _chunks(ids: tuple[int, ...], size: int) -> list[Window]:
    """Equal-sized consecutive chunks (no tiny remainder) covering every token."""
    count = -(-len(ids) // size)
    step = len(ids) / count
    bounds = [round(i * step) for i in range(count + 1)]
    chunks = [Window(ids[a:b], float(b - a)) for a, b in zip(bounds, bounds[1:], strict=False)]
    if len(chunks) > MAX_CHUNKS:
        picks = [round(i * (len(chunks) - 1) / (MAX_CHUNKS - 1)) for i in range(MAX_CHUNKS)]
        chunks = [chunks[i] for i in picks]
    return chunks


def exceeds_window(token_count: int, size: int = WINDOW_TOKENS) -> bool:
    """Whether a text of `token_count` tokens (no special tokens) is longer than one window."""
    return token_count > size
