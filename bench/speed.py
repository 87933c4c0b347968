"""Encode speed of an embedder: load time, sentences/s and tokens/s, fp32 vs bf16 side by side in one run.

.venv/bin/python bench/speed.py --data ../shared/data --model default --sentences 256
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from embedder import load_embedder
from embedder.evaluate.sts import load_sts_tsv
from embedder.loading import cpu_has_fast_bf16


def measure(model: str, dtype: str, texts: list[str]) -> dict:
    """Load once, encode `texts` as documents, return timings."""
    started = time.perf_counter()
    embedder = load_embedder(model, dtype=dtype)
    loaded = time.perf_counter()
    embedder.encode_documents(texts[:4])  # warm-up (first call allocates)
    began = time.perf_counter()
    embedder.encode_documents(texts, batch_size=32)
    seconds = time.perf_counter() - began
    tokens = sum(len(ids) for ids in embedder._tokenized.encode(texts, embedder.document_prefix())[0])
    return {"load_s": loaded - started, "sent_per_s": len(texts) / seconds, "tok_per_s": tokens / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--bf16-sentences", type=int, default=16, help="bf16 is ~100x slower without AMX")
    args = parser.parse_args()
    rows = load_sts_tsv(args.data / "sts" / "stsb_multi_mt" / "en" / "test.tsv")
    texts = [r[0] for r in rows]
    print(
        f"# {platform.machine()}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"fast bf16 in hardware: {cpu_has_fast_bf16()}"
    )
    print("| model | dtype | sentences | load s | sentences/s | tokens/s |")
    print("|---|---|---|---|---|---|")
    for dtype, n in (("float32", args.sentences), ("bfloat16", args.bf16_sentences)):
        r = measure(args.model, dtype, texts[:n])
        print(
            f"| {args.model} | {dtype} | {n} | {r['load_s']:.1f} | {r['sent_per_s']:.1f} | {r['tok_per_s']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
