"""Replay prompts from labelled JSONL files against a running tier-router endpoint, as traffic:
with shadow A/B and its judge on, every answered request can become a judged pair.

    python scripts/replay_traffic.py http://127.0.0.1:8000 ../shared/data/routellm_mtbench.jsonl:80 \\
        ../shared/data/routellm_gsm8k.jsonl:70 --concurrency 4 --max-tokens 48

`FILE:N` takes N prompts of the file (seeded sample); each request carries `metadata.category`
(the row's category, else the file's name), which the shadow store records for `tier-router drift`.
"""

import argparse
import json
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx


def load(spec: str, rng: random.Random) -> list[tuple[str, str]]:
    path, _, count = spec.partition(":")
    rows = [
        json.loads(line) for line in Path(path).read_text().split("\n") if line.strip()
    ]  # not splitlines(): U+2028 in text
    rows = rng.sample(rows, min(int(count), len(rows))) if count else rows
    return [(str(r.get("category") or Path(path).stem), str(r["prompt"])) for r in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="base URL of the deployment (without /v1)")
    parser.add_argument("files", nargs="+", help="JSONL files with `prompt` (and `category`), as FILE or FILE:N")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--timeout-s", type=float, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    prompts = [p for spec in args.files for p in load(spec, rng)]
    rng.shuffle(prompts)

    def send(item: tuple[str, str]) -> str:
        category, prompt = item
        body = {
            "model": "auto",
            "max_tokens": args.max_tokens,
            "metadata": {"category": category[:64]},
            "messages": [{"role": "user", "content": prompt}],
        }
        try:
            r = httpx.post(f"{args.url.rstrip('/')}/v1/chat/completions", json=body, timeout=args.timeout_s)
        except httpx.HTTPError as exc:
            return f"error:{type(exc).__name__}"
        return r.headers.get("x-tier-router-tier", "?") if r.status_code == 200 else f"status:{r.status_code}"

    with ThreadPoolExecutor(args.concurrency) as pool:
        outcomes = Counter(pool.map(send, prompts))
    print(json.dumps({"sent": len(prompts), "outcomes": dict(outcomes)}))
    return 0 if outcomes.get("small", 0) + outcomes.get("large", 0) else 1


if __name__ == "__main__":
    raise SystemExit(main())
