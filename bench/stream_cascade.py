"""Time to first token of the streaming cascade on the CPU default (real vLLM engines
serving SmolLM2-135M, cascade on, `mode: cascade_only` so every `auto` request starts on small
whatever the router thinks). Side by side in one run, one request at a time, prompts interleaved:

- `small` / `large` direct streams: the tiers' own TTFT, and the small tier's time to its k-th token;
- `auto`, prefix mode, committed (per-request threshold 0: every answer is kept), for several k;
- `auto`, prefix mode, escalated (per-request threshold 2: every answer is abandoned), for several k;
- `auto`, buffered mode, committed: what a streamed cascade cost before (the whole small answer).

TTFT is the first chunk with answer text, measured by the client; a stream is closed as soon as
what it measures is known (the engine stops). Bars, per k: committed p50 <= 1.5x direct small p50;
escalated p50 <= small time-to-k-th-token p50 + large TTFT p50. Every case sets its k per request,
so the config's own `prefix_tokens` changes no measurement; the table marks the k the config ships
and the cascade policy's default, both always measured.

    .venv/bin/python -m bench.stream_cascade [--rounds 3] [--smoke]
"""

import json
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from bench import ray_session
from bench.load import deploy, deployed_cascade, prompts
from bench.report import markdown_table
from bench.serving_report import bench_parser, finish, int_list, repo_path
from serve_app.cascade.policy import CascadePolicy


def timed_stream(url: str, payload: dict, tokens: int = 1) -> dict:
    """Seconds to each of the first `tokens` chunks with answer text (the first is the TTFT); the
    stream is closed then."""
    start = time.perf_counter()
    times: list[float] = []
    with httpx.stream("POST", url, json=payload, timeout=120) as response:
        tier = response.headers.get("x-tier-router-tier")
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("delta", {}).get("content"):
                times.append(time.perf_counter() - start)
                if len(times) >= tokens:
                    break
    return {"ttft": times[0] if times else None, "times": times, "tier": tier}


def cases(ks: list[int]) -> list[tuple[str, dict, int]]:
    """(name, payload changes, tokens to time) of every measured kind of stream."""

    def cascade(**knobs):
        return {"model": "auto", "tier_router": {"cascade": knobs}}

    out = [
        ("small direct", {"model": "small"}, max(ks)),
        ("large direct", {"model": "large"}, 1),
        ("auto buffered, kept", cascade(streaming="buffered", threshold=0.0), 1),
    ]
    for k in ks:
        out.append((f"auto prefix k={k}, kept", cascade(streaming="prefix", prefix_tokens=k, threshold=0.0), 1))
        out.append((f"auto prefix k={k}, escalated", cascade(streaming="prefix", prefix_tokens=k, threshold=2.0), 1))
    return out


def measure(port: int, texts: list[str], ks: list[int], rounds: int, max_tokens: int) -> dict:
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    samples: dict[str, list[dict]] = {}
    for text in texts[:2]:  # warm-up
        timed_stream(
            url, {"model": "small", "stream": True, "max_tokens": 8, "messages": [{"role": "user", "content": text}]}
        )
    plan = cases(ks)
    for r in range(rounds):
        for i, text in enumerate(texts):
            shift = (i + r) % len(plan)  # rotate the order so no case always runs first
            for name, extra, tokens in plan[shift:] + plan[:shift]:
                payload = {
                    "stream": True,
                    "max_tokens": max_tokens,
                    "messages": [{"role": "user", "content": text}],
                    **extra,
                }
                samples.setdefault(name, []).append(timed_stream(url, payload, tokens))
        print(f"  round {r + 1}/{rounds} done", flush=True)
    return samples


def p50(values) -> float:
    return float(np.percentile([v for v in values if v is not None], 50))


def summarise(samples: dict, ks: list[int]) -> dict:
    small = samples["small direct"]
    small_ttft, large_ttft = p50(s["ttft"] for s in small), p50(s["ttft"] for s in samples["large direct"])
    rows = []
    for name, runs in samples.items():
        tiers = sorted({s["tier"] for s in runs})
        rows.append(
            {
                "case": name,
                "n": len(runs),
                "ttft_p50_ms": 1000 * p50(s["ttft"] for s in runs),
                "ttft_p90_ms": 1000 * float(np.percentile([s["ttft"] for s in runs if s["ttft"] is not None], 90)),
                "vs_small": p50(s["ttft"] for s in runs) / small_ttft,
                "tiers": ",".join(map(str, tiers)),
            }
        )
    bars = []
    for k in ks:
        # the small tier's time to its k-th token, from the direct streams (the prefix it must wait for)
        to_k = p50(s["times"][k - 1] if len(s["times"]) >= k else None for s in small)
        kept = p50(s["ttft"] for s in samples[f"auto prefix k={k}, kept"])
        escalated = p50(s["ttft"] for s in samples[f"auto prefix k={k}, escalated"])
        bars.append(
            {
                "k": k,
                "kept_ms": 1000 * kept,
                "kept_bar_ms": 1500 * small_ttft,
                "kept_met": kept <= 1.5 * small_ttft,
                "escalated_ms": 1000 * escalated,
                "escalated_bar_ms": 1000 * (to_k + large_ttft),
                "escalated_met": escalated <= to_k + large_ttft,
                "small_to_k_ms": 1000 * to_k,
            }
        )
    return {"rows": rows, "bars": bars, "small_ttft_ms": 1000 * small_ttft, "large_ttft_ms": 1000 * large_ttft}


def shipped_ks(config: str) -> dict[int, str]:
    """k -> what ships it: the serve config's `ingress.cascade.prefix_tokens` and the cascade policy's
    default (read when the text is rendered: labels, never measurements)."""
    labels = {CascadePolicy().prefix_tokens: "policy default"}
    shipped = deployed_cascade(Path(config)).prefix_tokens
    labels[shipped] = f"{repo_path(config)}" + (", policy default" if shipped in labels else "")
    return labels


def render(summary: dict, args) -> str:
    labels = shipped_ks(args.config)
    table = markdown_table(
        ["stream", "n", "TTFT p50 ms", "TTFT p90 ms", "p50 vs small direct", "answered by"],
        [
            [r["case"], r["n"], round(r["ttft_p50_ms"]), round(r["ttft_p90_ms"]), f"{r['vs_small']:.2f}x", r["tiers"]]
            for r in summary["rows"]
        ],
    )
    bars = markdown_table(
        [
            "k",
            "kept TTFT p50",
            "bar: 1.5x small TTFT",
            "",
            "escalated TTFT p50",
            "bar: small to k-th token + large TTFT",
            "",
        ],
        [
            [
                f"{b['k']} ({labels[b['k']]})" if b["k"] in labels else str(b["k"]),
                f"{b['kept_ms']:.0f} ms",
                f"{b['kept_bar_ms']:.0f} ms",
                "met" if b["kept_met"] else "missed",
                f"{b['escalated_ms']:.0f} ms",
                f"{b['small_to_k_ms']:.0f} + {summary['large_ttft_ms']:.0f} ms",
                "met" if b["escalated_met"] else "missed",
            ]
            for b in summary["bars"]
        ],
    )
    return (
        f"`deployments/cpu.yaml` with `ingress.cascade.mode: cascade_only` (both tiers SmolLM2-135M on "
        f"vLLM CPU), MT-Bench first-turn prompts ({args.prompts}), `max_tokens` {args.max_tokens}, "
        f"{args.rounds} rounds, one request at a time. TTFT = first chunk with answer text at the client. "
        f"*kept* forces every answer to stay on small (threshold 0), *escalated* forces every answer to be "
        f"abandoned after its prefix (threshold 2); real traffic mixes the two. The small tier's time to its "
        f"k-th token comes from the direct small streams.\n\n{table}\n\n{bars}\n"
    )


def markdown_from_result(data: dict) -> str:
    """The section's text again from a stored result (no measuring): `python -m bench.rerender stream_cascade`."""
    from bench.rerender import recorded_args

    return render(data, recorded_args(data, parser()))


def parser():
    p = bench_parser(__doc__, serve_config=True)
    p.add_argument("--ks", default="1,2,4,8", help="prefix lengths to measure")
    p.add_argument("--rounds", type=int, default=3, help="passes over the prompts")
    p.add_argument("--prompts", type=int, default=8, help="prompts per round")
    p.add_argument("--max-tokens", type=int, default=64, help="max_tokens per request")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    ks = int_list(args.ks)
    if args.smoke:
        args.rounds, args.prompts, ks = 1, 2, [1, 4]
    ks = sorted({*ks, *shipped_ks(args.config)})
    texts = prompts(Path(args.data), args.prompts)
    start = time.perf_counter()
    samples = ray_session.run(
        lambda: deploy(Path(args.config), None, {"mode": "cascade_only"}),
        lambda port: measure(port, texts, ks, args.rounds, args.max_tokens),
    )
    summary = summarise(samples, ks)
    return finish(
        args,
        "stream_cascade",
        "Streaming cascade: time to first token (CPU default, real vLLM)",
        render(summary, args),
        {**summary, "samples": samples, "elapsed_s": time.perf_counter() - start},
    )


if __name__ == "__main__":
    sys.exit(main())
