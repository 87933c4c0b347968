"""Which instruction should STS use? Spearman x100 on STS-B English dev (choose) and test (report) per variant.

.venv/bin/python bench/sts_instructions.py --data ../shared/data            # default model, full dev + test
.venv/bin/python bench/sts_instructions.py --data ../shared/data --quick    # tiny model, 50 pairs

Variants encode both sentences of a pair the same way (STS is symmetric): with the query-side template of a
task from the instruction table, or with the document-side instruction. The choice is made on dev only;
test is printed next to it so the gap between the two is visible.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from embedder import load_embedder
from embedder.evaluate.metrics import spearman_x100
from embedder.evaluate.sts import load_sts_tsv
from embedder.instructions import TASKS

QUERY_TASKS = ["sts", "paraphrase", "nli", "duplicate_question", "bitext"]


def spearman(first: np.ndarray, second: np.ndarray, rows: list[tuple[str, str, float]]) -> float:
    """Spearman x100 of row-wise cosine (vectors are already normalised) against the gold scores."""
    return round(spearman_x100((first * second).sum(axis=1), [r[2] for r in rows]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--limit", type=int, default=None, help="First N pairs of each split.")
    parser.add_argument("--quick", action="store_true", help="Tiny model, 50 pairs.")
    args = parser.parse_args()
    if args.quick:
        args.model, args.limit = "tiny", 50
    embedder = load_embedder(args.model, max_tokens=256)
    folder = args.data / "sts" / "stsb_multi_mt" / "en"
    splits = {split: load_sts_tsv(folder / f"{split}.tsv", limit=args.limit) for split in ("dev", "test")}
    results: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    for split, rows in splits.items():
        vectors = {}
        for task in QUERY_TASKS:
            vectors[task] = [embedder.encode_queries([r[i] for r in rows], task=task) for i in (0, 1)]
        vectors["document"] = [embedder.encode_documents([r[i] for r in rows]) for i in (0, 1)]
        for name, (first, second) in vectors.items():
            results.setdefault(name, {})[split] = spearman(first, second, rows)
    chosen = max(results, key=lambda name: results[name]["dev"])
    print(f"model {args.model}, STS-B en dev {len(splits['dev'])} / test {len(splits['test'])} pairs, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'variant':<20} {'dev':>6} {'test':>6}  instruction")
    for name, scores in results.items():
        instruction = TASKS.get(name, embedder.document_prefix().strip())
        mark = " <- best on dev" if name == chosen else ""
        print(f"{name:<20} {scores['dev']:>6} {scores['test']:>6}  {instruction}{mark}")
    print(json.dumps({"model": args.model, "chosen_on_dev": chosen, "results": results}))


if __name__ == "__main__":
    main()
