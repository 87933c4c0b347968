"""One query at a time: transformers' forward vs the lean Gemma-3 forward (embedder/lean_gemma3.py), side by side.

.venv/bin/python bench/single_query.py --data ../shared/data            # full STS-B en test (~5 min)
.venv/bin/python bench/single_query.py --data ../shared/data --quick    # 100 pairs, 40 latency rounds

Both paths reuse the cached instruction states, as serving does; they differ only in who runs the decoder
over the query's own tokens. Latency: encode p50 of the same queries, the two paths alternating. Quality:
STS-B English test Spearman with every sentence encoded alone (batch of one, the case the lean path serves),
and the largest difference between the two paths' vectors.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from query_latency import QUERIES

from embedder import load_embedder
from embedder.evaluate.sts import load_sts_tsv, sts_spearman


class OneByOne:
    """An embedder as `sts_spearman` sees it, but every text encoded alone (a batch of one) through the lean
    path or transformers'; keeps the vectors it made, for comparing the two paths."""

    def __init__(self, embedder, lean: bool) -> None:
        self.embedder, self.lean, self.vectors = embedder, lean, []

    def encode_queries(self, texts: list[str], task: str | None = None) -> np.ndarray:
        self.embedder.use_lean_forward = self.lean
        vectors = np.concatenate([self.embedder.encode_queries([text], task=task) for text in texts])
        self.vectors.append(vectors)
        return vectors


def latency_p50_ms(embedder, rounds: int) -> dict[str, float]:
    """Median encode time of one web-search query per path, the paths alternating query by query."""
    times: dict[str, list[float]] = {"transformers": [], "lean": []}
    for i in range(rounds):
        text = QUERIES[i % len(QUERIES)] + f" {i}"
        for path in times:
            embedder.use_lean_forward = path == "lean"
            started = time.perf_counter()
            embedder.encode_queries([text], task="web_search")
            times[path].append(time.perf_counter() - started)
    return {path: round(float(np.median(t)) * 1000, 1) for path, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=None, help="First N STS-B en test pairs.")
    parser.add_argument("--rounds", type=int, default=200, help="Latency queries per path.")
    parser.add_argument("--quick", action="store_true", help="100 pairs, 40 latency rounds.")
    args = parser.parse_args()
    if args.quick:
        args.limit, args.rounds = 100, 40
    embedder = load_embedder(args.model)
    if embedder.lean_forward() is None:
        raise SystemExit(f"model {args.model!r} is not served with the lean forward (a CPU fp32 Gemma-3 is)")
    embedder.encode_queries(["warm-up"], task="web_search")
    latency = latency_p50_ms(embedder, args.rounds)
    rows = load_sts_tsv(args.data / "sts" / "stsbenchmark_en_original" / "test.tsv", limit=args.limit)
    spearman, vectors = {}, {}
    for path in ("transformers", "lean"):
        one_by_one = OneByOne(embedder, lean=path == "lean")
        spearman[path] = round(sts_spearman(one_by_one, rows), 2)
        vectors[path] = np.concatenate(one_by_one.vectors)
    max_diff = float(np.abs(vectors["lean"] - vectors["transformers"]).max())
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, model {args.model}, "
          f"STS-B en test {len(rows)} pairs, {args.rounds} latency rounds")  # fmt: skip
    print(f"{'path':<13} {'query p50 ms':>12} {'STS-B en (one by one)':>22}")
    for path in vectors:
        print(f"{path:<13} {latency[path]:>12} {spearman[path]:>22}")
    print(f"largest vector difference: {max_diff:.2e}")
    speedup = round(latency["transformers"] / latency["lean"], 3)
    print(json.dumps({"model": args.model, "pairs": len(rows), "query_p50_ms": latency, "speedup": speedup,
                      "stsb_en_test": spearman, "max_abs_vector_diff": max_diff}))  # fmt: skip


if __name__ == "__main__":
    main()
