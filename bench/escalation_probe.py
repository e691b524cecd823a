"""How confident is the small tier, and how often does the cascade escalate?

Sends a mixed sample of real prompts (MT-Bench, GSM8K, MMLU from ../shared/data, plus a dozen
everyday questions) to a running
tier-router (`model: auto`) once per confidence method, and prints per-prompt confidences and the
escalation rate at the configured threshold. Loopback only; request count is bounded by --per-set.

    .venv/bin/python -m bench.escalation_probe --url http://127.0.0.1:8000 --per-set 12
"""

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import httpx

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = ("routellm_mtbench.jsonl", "routellm_gsm8k.jsonl", "routellm_mmlu.jsonl")
# Everyday traffic the benchmark sets lack (written for this probe, not from a dataset).
EVERYDAY = [
    "What is the capital of Japan?",
    "How do I reset my password?",
    "Translate 'thank you' into French.",
    "What does HTTP 404 mean?",
    "How many minutes are in a day?",
    "Where can I find my invoice?",
    "What is a Python list?",
    "Can I change my delivery address?",
    "Give me a synonym for 'fast'.",
    "How do I undo the last git commit?",
    "What are your opening hours?",
    "Who wrote Hamlet?",
]


def sample_prompts(per_set: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out = []
    for name in SETS:
        rows = [json.loads(line) for line in (DATA / name).read_text().split("\n") if line.strip()]
        for row in rng.sample(rows, min(per_set, len(rows))):
            out.append((name.split("_")[1].split(".")[0], row["prompt"]))
    out += [("everyday", p) for p in EVERYDAY[:per_set]]
    return out


def probe(url: str, prompts, method: str, max_tokens: int, threshold: float | None) -> list[dict]:
    results = []
    cascade = {"method": method} | ({"threshold": threshold} if threshold is not None else {})
    with httpx.Client(base_url=url, timeout=300) as client:
        for dataset, prompt in prompts:
            t0 = time.perf_counter()
            r = client.post(
                "/v1/chat/completions",
                json={
                    "model": "auto",
                    "max_tokens": max_tokens,
                    "temperature": 0,
                    "messages": [{"role": "user", "content": prompt}],
                    "tier_router": {"cascade": cascade},
                },
            )
            h = r.headers
            results.append(
                {
                    "dataset": dataset,
                    "status": r.status_code,
                    "routed": h.get("x-tier-router-route-reason"),
                    "score": h.get("x-tier-router-score"),
                    "tier": h.get("x-tier-router-tier"),
                    "confidence": h.get("x-tier-router-confidence"),
                    "escalated": h.get("x-tier-router-escalated"),
                    "seconds": round(time.perf_counter() - t0, 2),
                }
            )
    return results


def summarise(method: str, results: list[dict]) -> None:
    judged = [r for r in results if r["confidence"] is not None]
    confs = [float(r["confidence"]) for r in judged if r["confidence"] != "none"]
    esc = [r for r in judged if r["escalated"] == "yes"]
    print(
        f"\n== {method}: {len(results)} prompts, {len(judged)} routed to small and judged, "
        f"{len(esc)} escalated ({100 * len(esc) / max(1, len(judged)):.0f}% of judged, "
        f"{100 * len(esc) / max(1, len(results)):.0f}% of all); unparsable: {len(judged) - len(confs)}"
    )
    if confs:
        q = statistics.quantiles(confs, n=4) if len(confs) > 1 else [confs[0]] * 3
        print(
            f"   confidence min {min(confs):.3f}  q1 {q[0]:.3f}  median {q[1]:.3f}  q3 {q[2]:.3f}  max {max(confs):.3f}"
        )
    print(f"   {'dataset':8} {'tier':6} {'score':>6} {'conf':>6} {'esc':>4} {'s':>6}")
    for r in results:
        print(
            f"   {r['dataset']:8} {r['tier'] or '-':6} {r['score'] or '-':>6} {r['confidence'] or '-':>6} "
            f"{r['escalated'] or '-':>4} {r['seconds']:>6}"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--per-set", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--threshold", type=float, default=None, help="override; default: the server's")
    ap.add_argument("--methods", default="logprobs,self_assessment")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write raw results here")
    args = ap.parse_args(argv)
    prompts = sample_prompts(args.per_set, args.seed)
    report = {}
    for method in args.methods.split(","):
        report[method] = probe(args.url, prompts, method, args.max_tokens, args.threshold)
        summarise(method, report[method])
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
