"""Ingestion throughput of `babelsearch index` vs raw encoding of the same chunks (pipeline overhead %).

.venv/bin/python bench/ingest_speed.py                       # samples/corpus with the default model
.venv/bin/python bench/ingest_speed.py --quick               # tiny model (< 1 min)

Both sides run in this one process on the same chunk texts: the full job (read, chunk, detect language,
embed, store) into a fresh embedded store, then `encode_documents` alone; `--rounds` times, alternating so
that drifting machine load hits both sides alike, the best time of each side kept.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from embedder import load_embedder
from indexer.ingest import Ingestor
from indexer.store.edge import EdgeStore

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--corpus", type=Path, default=REPO_ROOT / "samples" / "corpus")
    parser.add_argument("--rounds", type=int, default=2, help="Alternating rounds; best time per side kept.")
    parser.add_argument("--quick", action="store_true", help="The tiny random model.")
    args = parser.parse_args()
    if args.quick:
        args.model = "tiny"
    embedder = load_embedder(args.model)
    embedder.encode_documents(["warm-up"])
    ingest_s = encode_s = float("inf")
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as folder:
            store = EdgeStore(Path(folder), "bench")
            started = time.perf_counter()
            report = Ingestor(embedder, store).run([args.corpus], progress=False)
            ingest_s = min(ingest_s, time.perf_counter() - started)
            texts = [p.payload["text"] for p in store.scroll()]
            store.close()
        started = time.perf_counter()
        embedder.encode_documents(texts, batch_size=16)
        encode_s = min(encode_s, time.perf_counter() - started)
    overhead = (ingest_s - encode_s) / encode_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"model {args.model}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"files indexed {len(report.indexed)}, failed {len(report.failed)}, chunks {len(texts)}")
    print(f"ingest: {ingest_s:.1f} s = {len(texts) / ingest_s:.2f} chunks/s")
    print(f"raw encode of the same chunks: {encode_s:.1f} s = {len(texts) / encode_s:.2f} chunks/s")
    print(f"pipeline overhead: {overhead * 100:.1f} %")
    print(json.dumps({
        "model": args.model, "chunks": len(texts), "ingest_chunks_per_s": round(len(texts) / ingest_s, 3),
        "encode_chunks_per_s": round(len(texts) / encode_s, 3), "overhead_pct": round(overhead * 100, 1),
        "peak_rss_mb": round(peak_mb),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
