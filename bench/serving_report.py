"""Shared by the serving benchmarks: argument defaults, result paths, and the rewrite of the
`## Serving benchmarks` section of BENCHMARKS.md from every result JSON present."""

import argparse
import json
import re
import sys
from pathlib import Path

from bench.report import machine_line
from serve_app.markdown_section import write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "serving"
ORDER = ("router", "encoders", "long_prompts", "graph", "load", "cost", "stream_cascade", "prefix_curve")
SECTION = "serving-benchmarks"  # the BENCHMARKS.md section these commands own
INTRO = """Serving overhead and load, measured on this repository's own code (`bench/`). Each command
prints its table, writes `bench/results/serving/<name>.json` (with the machine and package
versions) and rewrites only this section. `--smoke` runs a seconds-long version that writes to
`bench/results/serving-smoke/` and leaves this file alone. The machines these ran on are shared, so
absolute numbers are noisy: compare the ratios measured side by side in one run.

| benchmark | command |
|---|---|
| 1. router scoring | `.venv/bin/python -m bench.router_overhead` |
| 2. encoder runtimes side by side, agreement with fp32 | `.venv/bin/python -m bench.encoder_runtimes` |
| 3. long-prompt policies: routing quality and CPU | `.venv/bin/python -m bench.long_prompt_quality` |
| 4. graph overhead (echo engine) | `.venv/bin/python -m bench.graph_overhead` |
| 5. end-to-end load (CPU default, real vLLM) | `.venv/bin/python -m bench.load` |
| 6. cost model | `.venv/bin/python -m bench.cost` (reads the tier split of 5) |
| 7. streaming cascade TTFT (CPU default, real vLLM) | `.venv/bin/python -m bench.stream_cascade` |
| 8. prefix confidence on real answers | `.venv/bin/python -m bench.prefix_curve --cache CACHE` (eval-cascade cache) |
"""

NOTES = """### Reading these results

- **Router.** With an embedding strategy the cost is the MiniLM forward pass (the profile below
  puts nearly all routing time inside the model runtime); the strategy on top (exemplar, kNN,
  logistic) is noise. MiniLM-L6 costs about 21 MFLOP per token (6 layers x (4 x 384^2 + 2 x 384 x
  1536) multiply-adds), about 1.3 GFLOP for 60 tokens. "Router encoder runtimes" below compares the
  runtimes side by side; repeats are served from the LRU cache in microseconds.
- **Default encoder.** `router.encoder_backend: auto` runs `openvino-bf16` on this CPU (AVX512-BF16):
  the agreement table shows it routing like fp32 on every shared set (cosine >= 0.99997, the same
  decision for >= 99.3% of each sample at 4.0 and at the 50/70/90% score quantiles; 300 prompts per
  set, MT-Bench's 80, so 99.3% is 2 prompts in 300) at 1.5x (60 tokens) to 2x (254 tokens) less CPU
  than `onnx-int8` and 2.2-2.8x less than the old sentence-transformers default. Evaluation,
  training and calibration embed with the same runtime and long-prompt policy, so thresholds and
  learned artifacts fit what serves them. `onnx-vnni-int8` is the fastest runtime measured (2.2x
  `onnx-int8`) but does not route like fp32 (cosine 0.98-0.99, 90-100% same decisions): opt-in only.
- **Why the 2 ms / 7x targets are missed here.** A 60-token prompt is 62 positions, about 657 M
  multiply-adds in MiniLM's dense layers; 2 ms needs about 330 G multiply-adds/s from one core.
  `python -m bench.encoder_profile` (onnxruntime's per-operator profile, one thread, 60 tokens) measured
  on this machine, loaded by other jobs: fused fp32 18.8 ms CPU (35 G/s; MatMul 59% and attention
  29% of kernel time), dynamic int8 on the VNNI kernels 8.7 ms CPU (76 G/s; int8 MatMul 46%,
  QAttention 23%, layer-norm and GELU 29%). This Zen 4 core's (CPU family 25, model 17) AVX-512
  works on 256-bit halves, so VNNI's int8 peak is some 64 multiply-adds per cycle (an estimate from
  published instruction throughput, not measured): about 200-240 G/s at 3-3.7 GHz, below what 2 ms
  needs even at 100% efficiency, and int8 with per-tensor dynamic activations also fails the
  routing-agreement bar. The 2 ms target needs AMX (int8/bf16 tiles, Sapphire Rapids or later) or a
  smaller model; on such a CPU `auto` also picks `openvino-bf16` (OpenVINO uses AMX for bf16 where
  present; not measured here: no AMX machine was available).
- **Graph.** tier-router's ingress alone (`tr-small`) costs about what Ray's OpenAiIngress costs;
  the router adds one Serve handle call, and py-spy shows that call's time is Ray Serve's own
  request routing, actor-call and metrics code rather than tier-router's. On 2 shared cores every
  path is CPU-bound at high concurrency, so latency follows CPU per request.
- **Load and cost.** The tier split and escalation rate are what the shipped CPU default does with
  MT-Bench prompts (sent without `temperature`, so sampled): its route and cascade thresholds are
  the operating point `tier-router tune` chose for at most 30% of traffic reaching large ("Operating
  point of the shipped default" below). A saving is only worth what the small tier's answers are
  worth: on MMLU, SmolLM2-135M is below chance and nothing here picks its right answers better than
  chance ("Cascade on real answers"). Tune both thresholds for your traffic (`tier-router tune`),
  then rerun `bench/load.py` and `bench/cost.py`.
- **Streaming cascade (7, 8).** Prefix streaming cuts a kept answer's time to first token from the
  small tier's whole generation (buffered, about 16x a direct small stream in benchmark 7) to its
  time to the `prefix_tokens`-th token, and an escalated one to that plus the large tier's own first
  token (met at every k measured). The 1.5x-of-direct-small bar for kept answers is met only for
  k <= 2 on this loaded 2-core machine (about 115 ms per token against a 530 ms first token); the
  policy default k = 8 gives 2.3x. k = 8 stays the policy default because the shared `threshold` is
  fitted to
  whole answers: on SmolLM2's MMLU answers (benchmark 8) an 8-token prefix escalates as often as the
  whole answer (55.5% vs 56.0% at 0.7) and makes the same decision 79% of the time, while 1-3
  tokens escalate 97-100%. No logprob signal tells right from wrong on that data, whole or prefix
  (AUROC 0.48-0.53, APGR 0.48-0.51), so deciding on a prefix costs no measurable quality there, and
  none can be claimed for other traffic. A 2-token prefix with its own threshold (0.49 escalates the
  whole answer's 56%) would meet the TTFT bar at the same share and measured quality there, but
  would make the whole answer's decision only 55% of the time (about chance for a 56/44 split);
  there is no separate prefix threshold today. These are the policy defaults (`logprobs`, 0.7); the
  shipped CPU default (`min_prob`, threshold 0.0) never escalates a scored answer, so there every k
  makes the same decision and it ships `prefix_tokens: 2`, which meets the 1.5x bar. A client that
  wants the lowest TTFT can send
  `"tier_router": {"cascade": {"prefix_tokens": 2}}` (expect more escalations at the same threshold).
"""


def common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smoke", action="store_true", help="tiny run that proves the command works")
    parser.add_argument("--out", default=None, help="result folder (default bench/results/serving)")
    parser.add_argument("--report", default=str(ROOT / "BENCHMARKS.md"), help="Markdown file to update")
    parser.add_argument("--no-report", action="store_true", help="do not touch the Markdown file")


def out_dir(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    return RESULTS.with_name("serving-smoke") if args.smoke else RESULTS


def command_line() -> str:
    """The command that ran this benchmark (`python -m bench.NAME ...`)."""
    module = f"bench.{Path(sys.argv[0]).stem}"
    return " ".join([".venv/bin/python", "-m", module, *sys.argv[1:]])


def finish(args: argparse.Namespace, name: str, title: str, md: str, data: dict) -> int:
    """Print a benchmark's table, write `<name>.json` (with the command and machine) and refresh the
    BENCHMARKS.md section; the common end of every bench/*.py command."""
    from bench.report import write_result

    print(md)
    path = write_result(out_dir(args) / f"{name}.json", name, command_line(), {"title": title, "markdown": md, **data})
    print(f"wrote {path}")
    publish(args)
    return 0


def publish(args: argparse.Namespace) -> None:
    """Rebuild the section from the full-run JSONs (never from a smoke run)."""
    if args.smoke or args.no_report:
        return
    loaded = {n: json.loads((RESULTS / f"{n}.json").read_text()) for n in ORDER if (RESULTS / f"{n}.json").exists()}
    parts = [INTRO, bars_summary(loaded), NOTES]
    for number, data in enumerate(loaded.values(), 1):
        title = re.sub(r"^\d+\.\s*", "", data["title"])  # numbered here, in ORDER, not by each command
        parts.append(
            f"### {number}. {title}\n\nCommand: `{data['command']}`  \n"
            f"Machine: {machine_line(data['machine'])}\n\n{data['markdown'].strip()}\n"
        )
    body = "## Serving benchmarks\n\n" + "\n".join(parts)
    write_section(args.report, SECTION, body, "the bench/ commands")
    print(f"updated the serving section of {args.report}")


def bars_summary(loaded: dict) -> str:
    """The issue's bars, read back from the result files."""
    rows = []
    if "router" in loaded:
        b = loaded["router"]["bars"]
        rows.append(
            [
                "router p50, medium prompt, best backend, one core",
                "< 5 ms",
                f"{b['medium_p50_ms']:.2f} ms wall, {b['medium_cpu_ms']:.2f} ms CPU ({b['best_backend']})",
                "met"
                if b["router_bar_met"]
                else f"missed by {b['medium_p50_ms'] - 5:.2f} ms wall, {b['medium_cpu_ms'] - 5:.2f} ms CPU",
            ]
        )
        rows.append(
            [
                "cache hit",
                "< 0.1 ms",
                f"{1000 * b['cache_p50_ms']:.1f} us p50",
                "met" if b["cache_bar_met"] else "missed",
            ]
        )
    if "graph" in loaded:
        for c in loaded["graph"]["bar"]:
            rows.append(
                [
                    f"graph added p50 at concurrency {c['concurrency']}",
                    f"<= {c['allowed_p50_ms']:.1f} ms",
                    f"{c['tr_auto_ro_added_p50_ms']:.1f} ms",
                    "met" if c["met"] else f"missed by {c['tr_auto_ro_added_p50_ms'] - c['allowed_p50_ms']:.1f} ms",
                ]
            )
        c = loaded["graph"].get("cpu_bar")
        if c:
            rows.append(
                [
                    "graph added CPU per request (concurrency 32)",
                    f"<= {c['allowed_cpu_ms']:.1f} ms",
                    f"{c['tr_auto_ro_added_cpu_ms']:.1f} ms",
                    "met" if c["met"] else "missed",
                ]
            )
    if not rows:
        return ""
    from bench.report import markdown_table

    return "### Bars (issue 5)\n\n" + markdown_table(["bar", "target", "measured", "verdict"], rows) + "\n"
