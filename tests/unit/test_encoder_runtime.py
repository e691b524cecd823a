"""Encoder runtime logic without a model: long-prompt windows, pooling, CPU features, the registry."""

import numpy as np
import pytest
from pydantic import ValidationError

from serve_app.config import RouterConfig
from serve_app.evaluation.embeddings import EmbeddingStore, content_key
from serve_app.routing import encoder_registry as reg
from serve_app.routing.cpu_features import CpuFeatures, parse_cpuinfo
from serve_app.routing.encoder import combine, mean_pool
from serve_app.routing.long_prompts import MAX_CHUNKS, WINDOW_TOKENS, exceeds_window, windows

ZEN4 = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16\n"
OLD = "model name\t: Old Xeon\nflags\t\t: fpu sse4_2 avx2\n"


def test_short_text_is_one_window_under_every_policy():
    for policy in ("truncate", "head_tail", "chunk_mean"):
        assert windows(range(10), policy) == windows(list(range(10)), policy)
        (only,) = windows(range(10), policy)
        assert only.ids == tuple(range(10)) and only.weight == 1.0


def test_truncate_keeps_the_start_only():
    (only,) = windows(range(600), "truncate")
    assert only.ids == tuple(range(WINDOW_TOKENS))


def test_head_tail_keeps_both_ends_in_one_window():
    (only,) = windows(range(600), "head_tail")
    assert len(only.ids) == WINDOW_TOKENS
    assert only.ids[0] == 0 and only.ids[-1] == 599
    assert only.ids[WINDOW_TOKENS // 2 - 1] == WINDOW_TOKENS // 2 - 1  # head ends where the tail starts
    assert only.ids[WINDOW_TOKENS // 2] == 600 - (WINDOW_TOKENS - WINDOW_TOKENS // 2)


def test_chunk_mean_covers_every_token_once_in_equal_windows():
    parts = windows(range(600), "chunk_mean")
    assert [t for w in parts for t in w.ids] == list(range(600))
    assert len(parts) == 3 and all(len(w.ids) <= WINDOW_TOKENS for w in parts)
    assert max(len(w.ids) for w in parts) - min(len(w.ids) for w in parts) <= 1
    assert [w.weight for w in parts] == [float(len(w.ids)) for w in parts]


def test_chunk_mean_bounds_work_on_huge_texts():
    parts = windows(range(WINDOW_TOKENS * 40), "chunk_mean")
    assert len(parts) == MAX_CHUNKS
    assert parts[0].ids[0] == 0 and parts[-1].ids[-1] == WINDOW_TOKENS * 40 - 1


def test_unknown_policy_and_tiny_window_are_errors():
    with pytest.raises(ValueError, match="policy"):
        windows(range(600), "middle")
    with pytest.raises(ValueError):
        windows(range(5), "truncate", size=1)
    assert exceeds_window(WINDOW_TOKENS + 1) and not exceeds_window(WINDOW_TOKENS)


def test_mean_pool_ignores_padding_and_normalises():
    hidden = np.array([[[1.0, 0.0], [0.0, 1.0], [50.0, 50.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    out = mean_pool(hidden, mask)
    assert np.allclose(out, [[np.sqrt(0.5), np.sqrt(0.5)]])


def test_combine_weights_windows_by_tokens_and_renormalises():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    out = combine(vectors, owners=[0, 0, 1], weights=[3.0, 1.0, 1.0], texts=2)
    assert np.allclose(out[0], np.array([3.0, 1.0]) / np.sqrt(10)) and np.allclose(out[1], [1.0, 0.0])


def test_cpu_features_from_cpuinfo():
    zen4 = parse_cpuinfo(ZEN4.splitlines())
    assert zen4.model == "AMD EPYC 9R14" and zen4.int8_dot and zen4.bf16 and not zen4.amx
    assert "AVX512-VNNI" in zen4.kernels() and "AVX512-BF16" in zen4.kernels()
    old = parse_cpuinfo(OLD.splitlines())
    assert not old.int8_dot and not old.bf16 and old.kernels() == "AVX2"
    assert parse_cpuinfo([]).model == "unknown"


def everything(_package):
    return True


def test_auto_prefers_bf16_openvino_where_the_cpu_has_bf16():
    assert reg.resolve("auto", parse_cpuinfo(ZEN4.splitlines()), everything)[0] == reg.AUTO_ORDER[0]


def test_auto_and_explicit_backends_fall_back_without_the_cpu_feature():
    old = parse_cpuinfo(OLD.splitlines())
    name, why = reg.resolve("auto", old, everything)
    assert name == "onnx-fp32" and "bf16" in why
    name, why = reg.resolve("onnx-vnni-int8", old, everything)
    assert name == "onnx-fp32" and "int8_dot" in why


def test_missing_packages_fall_back_to_torch_and_nothing_usable_is_an_error():
    zen4 = parse_cpuinfo(ZEN4.splitlines())
    name, why = reg.resolve("auto", zen4, lambda p: p in ("torch", "transformers"))
    assert name == "torch" and "openvino" in why and "onnxruntime" in why
    with pytest.raises(RuntimeError, match="no MiniLM runtime"):
        reg.resolve("auto", zen4, lambda p: False)
    with pytest.raises(ValueError, match="unknown encoder backend"):
        reg.resolve("tensorrt", zen4, everything)
    assert reg.chain("onnx-int8") == ["onnx-int8", "onnx-fp32", "torch"]


def test_router_config_encoder_fields_are_validated():
    cfg = RouterConfig()
    assert cfg.encoder_backend == "auto" and cfg.long_prompts == "chunk_mean" and cfg.placement == "deployment"
    assert (
        RouterConfig(encoder_backend="onnx-int8", long_prompts="head_tail").encoder_settings().long_prompts
        == "head_tail"
    )
    for bad in ({"encoder_backend": "onnx"}, {"long_prompts": "middle"}, {"placement": "sidecar"}):
        with pytest.raises(ValidationError):
            RouterConfig(**bad)


def test_embedding_cache_key_names_the_runtime_and_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(reg, "resolve", lambda name, *a, **k: (name, "test"))
    a = RouterConfig(encoder_backend="onnx-fp32").encoder_settings()
    b = RouterConfig(encoder_backend="torch").encoder_settings()
    c = RouterConfig(encoder_backend="onnx-fp32", long_prompts="truncate").encoder_settings()
    assert len({a.cache_id(), b.cache_id(), c.cache_id()}) == 3
    stores = [EmbeddingStore(folder=tmp_path, progress=False, settings=s) for s in (a, b)]
    assert content_key(["x"], stores[0].encoder_id) != content_key(["x"], stores[1].encoder_id)
    assert "onnx-fp32" in stores[0].encoder_id and "chunk_mean" in stores[0].encoder_id


def test_feature_detection_never_fails(monkeypatch, tmp_path):
    from serve_app.routing import cpu_features

    monkeypatch.setattr(cpu_features, "CPUINFO", tmp_path / "absent")
    cpu_features.detect.cache_clear()
    try:
        assert cpu_features.detect() == CpuFeatures("unknown", frozenset())
    finally:
        cpu_features.detect.cache_clear()
