"""MiniLM embeddings of whole datasets, cached on disk by content hash so reruns are instant.

Cache folder: `$TIER_ROUTER_CACHE_DIR/embeddings`, else `~/.cache/tier-router/embeddings`; one
`.npy` per (encoder, texts) pair, named by a SHA-256 of the encoder id (model, runtime backend,
long-prompt policy) and every text.
"""

import hashlib
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from serve_app import local_files

ENCODER_ID = "all-MiniLM-L6-v2"
CHUNK = 256


def cache_dir() -> Path:
    return local_files.cache_dir("embeddings")


def content_key(texts: Sequence[str], encoder_id: str = ENCODER_ID) -> str:
    digest = hashlib.sha256(encoder_id.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def default_settings():
    """The serving default (`RouterConfig()`): evaluation embeds exactly as the router does."""
    from serve_app.config import RouterConfig

    return RouterConfig().encoder_settings()


def default_encoder(settings=None):
    from serve_app.routing.encoder_registry import make_encoder

    return make_encoder(settings or default_settings())


class EmbeddingStore:
    """Embeds texts once per content; the encoder is built lazily, only on a cache miss."""

    def __init__(
        self,
        encoder_factory: Optional[Callable] = None,
        folder: Optional[Path] = None,
        progress: bool = True,
        settings=None,
    ):
        self.settings = settings or (None if encoder_factory else default_settings())
        # The key names the runtime and long-prompt policy, so each runtime's vectors stay apart.
        self.encoder_id = self.settings.cache_id() if self.settings else ENCODER_ID
        self._factory = encoder_factory or self._default_encoder
        self._encoder = None
        self.folder = Path(folder) if folder else cache_dir()
        self.progress = progress

    def _default_encoder(self):
        if self.settings == default_settings():
            return default_encoder()
        return default_encoder(self.settings)

    def encoder(self):
        if self._encoder is None:
            self._encoder = self._factory()
        return self._encoder

    def over_window(self, texts: Sequence[str]) -> int:
        """How many texts are longer than MiniLM's window (tokenizer only, no model)."""
        from serve_app.routing.encoder import count_over_window

        return count_over_window(texts)

    def embed(self, texts: Sequence[str], label: str = "embedding") -> np.ndarray:
        path = self.folder / f"{content_key(texts, self.encoder_id)}.npy"
        if path.exists():
            return np.load(path)
        vectors = self._encode_chunks(list(texts), label)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        return vectors

    def _encode_chunks(self, texts: list[str], label: str) -> np.ndarray:
        from tqdm import tqdm

        encoder = self.encoder()
        parts = []
        with tqdm(total=len(texts), desc=label, unit="prompt", disable=not self.progress) as bar:
            for start in range(0, len(texts), CHUNK):
                chunk = texts[start : start + CHUNK]
                parts.append(encoder.encode(chunk))
                bar.update(len(chunk))
        if not parts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.concatenate(parts).astype(np.float32, copy=False)
