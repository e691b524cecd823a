"""Model runtimes behind the encoder: each maps padded token ids to MiniLM's last hidden state.

A runner has `run(ids, mask) -> (batch, sequence, 384) float32` and `kernels` (what runs, for the
start-up log and benchmarks). Heavy imports happen in the constructors only.
"""

import os
from pathlib import Path

import numpy as np


class TorchRunner:
    """fp32 reference: the transformers BERT model of the packaged weights on torch."""

    def __init__(self, weights: Path, threads: int = 1):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel

        torch.set_num_threads(threads)
        self._torch = torch
        self._model = AutoModel.from_pretrained(str(weights), local_files_only=True).eval()
        self.kernels = f"torch {torch.__version__} fp32"

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self._model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.last_hidden_state.numpy()


class OrtRunner:
    """onnxruntime on one CPU thread: sequential execution, no spinning thread pool."""

    def __init__(self, model_file: Path, threads: int = 1, label: str = "fp32"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.kernels = f"onnxruntime {ort.__version__} CPU {label}"

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return self._session.run(None, feeds)[0]


class OpenVinoRunner:
    """OpenVINO's CPU plugin at a given inference precision (`bf16` uses AVX512-BF16/AMX)."""

    def __init__(self, model_file: Path, threads: int = 1, precision: str = "bf16"):
        import openvino as ov

        config = {
            "INFERENCE_PRECISION_HINT": precision,
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "ENABLE_CPU_PINNING": False,
        }
        compiled = ov.Core().compile_model(str(model_file), "CPU", config)
        self._request = compiled.create_infer_request()
        actual = compiled.get_property("INFERENCE_PRECISION_HINT")  # what the plugin really runs
        self.kernels = f"OpenVINO {ov.__version__.split('-')[0]} CPU {actual.to_string()}"

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        result = self._request.infer({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        return next(iter(result.values()))
