"""Where a MiniLM forward pass spends its time: onnxruntime's per-operator profile of the fused fp32
and int8 graphs for one 60-token prompt (one thread), and the multiply-add rate it reaches.

    .venv/bin/python -m bench.encoder_profile [--tokens 60] [--runs 200]
"""

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict

import numpy as np

MACS_PER_TOKEN = 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # the dense layers of MiniLM-L6


def profile(model_file, tokens: int, runs: int) -> dict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.enable_profiling = True
    options.profile_file_prefix = tempfile.mkdtemp() + "/ort"
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    ids = np.full((1, tokens + 2), 2000, dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    for _ in range(10):
        session.run(None, feeds)
    cpu = []
    for _ in range(runs):
        start = time.thread_time()
        session.run(None, feeds)
        cpu.append(time.thread_time() - start)
    by_op: dict[str, float] = defaultdict(float)
    for event in json.load(open(session.end_profiling())):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            by_op[event["args"]["op_name"]] += event["dur"]
    total = sum(by_op.values())
    cpu_ms = 1000 * float(np.median(cpu))
    return {
        "cpu_p50_ms": cpu_ms,
        "gmac_per_s": MACS_PER_TOKEN * (tokens + 2) / cpu_ms / 1e6,
        "ops": {k: v / total for k, v in sorted(by_op.items(), key=lambda kv: -kv[1])},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=60)
    p.add_argument("--runs", type=int, default=200)
    args = p.parse_args(argv)
    from serve_app.routing.minilm_export import fused_onnx, int8_onnx

    for name, path in (("onnx-fp32", fused_onnx()), ("onnx-vnni-int8", int8_onnx())):
        r = profile(path, args.tokens, args.runs)
        ops = ", ".join(f"{k} {100 * v:.0f}%" for k, v in list(r["ops"].items())[:6])
        print(
            f"{name}: {args.tokens} tokens, CPU p50 {r['cpu_p50_ms']:.2f} ms, "
            f"{r['gmac_per_s']:.0f} GMAC/s in the dense layers; kernel time: {ops}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
