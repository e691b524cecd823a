"""Benchmark: how fast one core of this CPU multiplies matrices with the runtimes tier-router ships
(onnxruntime, OpenVINO), one thread each: int8 (onnxruntime `MatMulInteger`, u8 x s8 -> s32; OpenVINO
with `FakeQuantize` on both inputs, which its CPU plugin runs as an int8 GEMM), bf16 (OpenVINO at
inference precision bf16) and fp32 for reference. Shapes are MiniLM-L6's dense layers for a 60-token
prompt (62 positions with [CLS]/[SEP]) and one large square GEMM for the peak. The question it
answers: can MiniLM's ~658 M dense multiply-adds for a 60-token prompt run in 2 ms (329 G MAC/s)
on this core at all?

    .venv/bin/python -m bench.gemm_peak            # about a minute, updates BENCHMARKS.md
    .venv/bin/python -m bench.gemm_peak --smoke    # seconds
"""

import sys
import time
from pathlib import Path

import numpy as np

from bench.report import markdown_table
from bench.serving_report import bench_parser, finish
from serve_app.routing.cpu_features import detect

TOKENS = 62  # a 60-token prompt plus [CLS] and [SEP]
SHAPES = {  # name: (M, K, N); per MiniLM layer: 4 x qkv/out, 1 x ffn up, 1 x ffn down
    "qkv/out 62x384x384": (TOKENS, 384, 384),
    "ffn up 62x384x1536": (TOKENS, 384, 1536),
    "ffn down 62x1536x384": (TOKENS, 1536, 384),
    "square 512x1024x1024": (512, 1024, 1024),
}
PER_LAYER = {"qkv/out 62x384x384": 4, "ffn up 62x384x1536": 1, "ffn down 62x1536x384": 1}
LAYERS = 6
TARGET_MS = 2.0
FLAGS = ("avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")


def minilm_macs() -> int:
    return LAYERS * sum(count * m * k * n for name, count in PER_LAYER.items() for m, k, n in [SHAPES[name]])


def ort_gemm(m: int, k: int, n: int, int8: bool):
    """A one-node onnxruntime session (weights constant, as in a model); returns (run, input)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if int8:
        b = numpy_helper.from_array(rng.integers(-127, 128, (k, n), dtype=np.int8), "B")
        zp = numpy_helper.from_array(np.array(128, dtype=np.uint8), "a_zp")
        node = helper.make_node("MatMulInteger", ["A", "B", "a_zp"], ["Y"])
        inputs, out, inits = TensorProto.UINT8, TensorProto.INT32, [b, zp]
        a = rng.integers(0, 256, (m, k), dtype=np.uint8)
    else:
        inits = [numpy_helper.from_array(rng.standard_normal((k, n), dtype=np.float32), "B")]
        node = helper.make_node("MatMul", ["A", "B"], ["Y"])
        inputs, out = TensorProto.FLOAT, TensorProto.FLOAT
        a = rng.standard_normal((m, k), dtype=np.float32)
    graph = helper.make_graph(
        [node],
        "gemm",
        [helper.make_tensor_value_info("A", inputs, [m, k])],
        [helper.make_tensor_value_info("Y", out, [m, n])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return (lambda: session.run(None, {"A": a})), f"onnxruntime {ort.__version__} {node.op_type}"


def ov_gemm(m: int, k: int, n: int, precision: str):
    """A one-MatMul OpenVINO model on the CPU plugin, one thread; precision f32, bf16 or int8
    (FakeQuantize on activations and weights). Returns (run, what the plugin says it runs)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    a = ops.parameter([m, k], ov.Type.f32, name="A")
    w = ops.constant(rng.standard_normal((k, n), dtype=np.float32))
    x, y = a, w
    if precision == "int8":
        x = ops.fake_quantize(a, -4.0, 4.0, -4.0, 4.0, 256)
        y = ops.fake_quantize(w, -4.0, 4.0, -4.0, 4.0, 255)
    model = ov.Model([ops.matmul(x, y, False, False)], [a])
    config = {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    config["INFERENCE_PRECISION_HINT"] = "bf16" if precision == "bf16" else "f32"
    compiled = ov.Core().compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    data = rng.standard_normal((m, k), dtype=np.float32)
    return (lambda: request.infer({0: data})), f"OpenVINO {ov.__version__.split('-')[0]} {_ov_kernel(compiled)}"


def _ov_kernel(compiled) -> str:
    """The compiled GEMM node's runtime precision and primitive (e.g. `u8 brgemm_avx512_I8`)."""
    for op in compiled.get_runtime_model().get_ops():
        info = {k: op.get_rt_info()[k].astype(str) for k in ("layerType", "runtimePrecision", "primitiveType")}
        if info["layerType"] in ("FullyConnected", "MatMul"):
            return f"{info['layerType']} {info['runtimePrecision']} {info['primitiveType']}"
    return "(no GEMM node found)"


def time_calls(run, seconds: float, max_calls: int = 5000) -> dict:
    """Per-call wall times (ms) and CPU time per call over `seconds` after a warm-up."""
    for _ in range(10):
        run()
    walls = []
    cpu0, end = time.process_time(), time.perf_counter() + seconds
    while time.perf_counter() < end and len(walls) < max_calls:
        t = time.perf_counter()
        run()
        walls.append(time.perf_counter() - t)
    cpu = (time.process_time() - cpu0) / len(walls)
    return {
        "calls": len(walls),
        "p50_ms": 1000 * float(np.median(walls)),
        "best_ms": 1000 * min(walls),
        "cpu_ms": 1000 * cpu,
    }


def measure(seconds: float) -> list[dict]:
    makers = {
        "int8 (onnxruntime)": lambda s: ort_gemm(*s, int8=True),
        "int8 (OpenVINO)": lambda s: ov_gemm(*s, "int8"),
        "bf16 (OpenVINO)": lambda s: ov_gemm(*s, "bf16"),
        "fp32 (OpenVINO)": lambda s: ov_gemm(*s, "f32"),
        "fp32 (onnxruntime)": lambda s: ort_gemm(*s, int8=False),
    }
    rows = []
    for kind, make in makers.items():
        for shape, (m, k, n) in SHAPES.items():
            run, kernel = make((m, k, n))
            t = time_calls(run, seconds)
            macs = m * k * n
            rows.append({"kind": kind, "shape": shape, "kernel": kernel, "macs": macs, **t})
            print(f"  {kind:20} {shape:22} {macs / t['cpu_ms'] / 1e6:7.1f} G MAC/s (CPU time)", flush=True)
    return rows


def minilm_estimate(rows: list[dict]) -> list[dict]:
    """Per kind: MiniLM's dense layers for 60 tokens at the measured per-shape CPU time."""
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        by = {r["shape"]: r for r in rows if r["kind"] == kind}
        ms = LAYERS * sum(count * by[s]["cpu_ms"] for s, count in PER_LAYER.items())
        peak = max(r["macs"] / r["best_ms"] / 1e6 for r in by.values())
        out.append({"kind": kind, "dense_ms": ms, "rate": minilm_macs() / ms / 1e6, "peak": peak})
    return out


COLUMNS = ("precision (runtime)", "shape MxKxN", "kernel that ran", "CPU ms/call", "best wall ms")
RATES = ("G MAC/s (CPU)", "G MAC/s (best)")
SUMMARY = ("MiniLM dense layers, 60 tokens (CPU ms)", "G MAC/s on MiniLM's shapes", "best G MAC/s of any shape")


def cpu_ids() -> str:
    """`CPU family F, model M` from /proc/cpuinfo (a VM may hide the marketing name, not these)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "family/model unknown"
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[:12])}
    return f"CPU family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}"


def render(rows: list[dict], estimate: list[dict]) -> str:
    cpu = detect()
    flags = ", ".join(f for f in FLAGS if f in cpu.flags) or "none"
    absent = ", ".join(f for f in FLAGS if f not in cpu.flags) or "none"
    need = minilm_macs() / TARGET_MS / 1e6
    table = markdown_table(
        [*COLUMNS, *RATES],
        [
            [r["kind"], r["shape"], r["kernel"], f"{r['cpu_ms']:.4f}", f"{r['best_ms']:.4f}",
             f"{r['macs'] / r['cpu_ms'] / 1e6:.1f}", f"{r['macs'] / r['best_ms'] / 1e6:.1f}"]
            for r in rows
        ],
    )  # fmt: skip
    summary = markdown_table(
        [COLUMNS[0], *SUMMARY, "2 ms needs"],
        [
            [e["kind"], f"{e['dense_ms']:.2f}", f"{e['rate']:.1f}", f"{e['peak']:.1f}", f"{need:.0f} G MAC/s"]
            for e in estimate
        ],
    )
    return (
        f"CPU: {cpu.model} ({cpu_ids()}); flags present: {flags}; absent: {absent}. One thread per runtime, weights "
        f"constant (pre-packed as in a model), random data. An OpenVINO call includes converting its f32 "
        f"input (quantising to u8 for int8, to bf16 for bf16); onnxruntime's `MatMulInteger` gets u8 input. "
        f"CPU time per call is the thread's own time (the machine is shared); *best* is the fastest single "
        f"call. MiniLM-L6's dense layers for a 60-token prompt are {minilm_macs() / 1e6:.0f} M multiply-adds "
        f"(6 layers x (4 x 62x384x384 + 62x384x1536 + 62x1536x384)); attention scores, softmax, layer "
        f"norms, GELU, tokenisation and pooling come on top.\n\n{table}\n\n"
        f"GEMMs alone, MiniLM's shapes at the measured speeds:\n\n{summary}\n"
    )


def main(argv=None) -> int:
    p = bench_parser(__doc__)
    p.add_argument("--seconds", type=float, default=1.5, help="timed seconds per runtime and shape")
    args = p.parse_args(argv)
    if args.smoke:
        args.seconds = 0.05
    start = time.perf_counter()
    rows = measure(args.seconds)
    estimate = minilm_estimate(rows)
    data = {"rows": rows, "minilm": estimate, "needed_gmacs": minilm_macs() / TARGET_MS / 1e6}
    data["elapsed_s"] = time.perf_counter() - start
    title = "Matrix-multiply peak on one core (int8, bf16, fp32)"
    return finish(args, "gemm_peak", title, render(rows, estimate), data)


if __name__ == "__main__":
    sys.exit(main())
