"""Query latency (encode + search, p50/p95/p99) on the embedded store at 10k and 100k points, and HNSW recall@10.

.venv/bin/python bench/query_latency.py                 # 10k and 100k points, 200 queries
.venv/bin/python bench/query_latency.py --quick         # 10k points, 50 queries, tiny model (< 1 min)

The store holds synthetic unit vectors (low intrinsic dimension, see synthetic_vectors):
embedding 100k real chunks with a 270M model on this CPU would take hours, and search speed depends on the
vectors' count and size, not their meaning. Queries are real texts encoded by the model (the encode part of
the latency); recall@10 of the HNSW index against exact search uses in-distribution queries (stored vectors
plus noise), so it measures the index on data shaped like what it holds.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import qdrant_edge as qe
import torch

from embedder import load_embedder
from indexer.store.base import OVERSAMPLING, SEARCH_EF, Point
from indexer.store.edge import EdgeStore

QUERIES = [
    "Wie erkenne ich eine verschlissene Fahrradkette?",
    "why do some volcanoes explode",
    "¿Cómo se hace pan de masa madre?",
    "comment se forment les aurores boréales",
    "蜜蜂如何授粉",
    "コーヒーの栽培に適した気候",
    "как работают вакцины",
    "best chess opening for beginners",
]


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator, latent_dim: int = 64) -> np.ndarray:
    """Unit vectors with a low intrinsic dimension, like text embeddings: a random linear map of a
    `latent_dim`-d Gaussian plus a little isotropic noise (float32)."""
    mixing = rng.standard_normal((latent_dim, dim)).astype(np.float32)
    vectors = rng.standard_normal((n, latent_dim)).astype(np.float32) @ mixing
    vectors += 0.1 * np.sqrt(latent_dim) * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build_store(folder: Path, vectors: np.ndarray) -> tuple[EdgeStore, float, float]:
    """Fill an embedded store; return it with the load and HNSW-build seconds."""
    store = EdgeStore(folder, "bench")
    store.ensure_collection(vectors.shape[1], {"bench": "synthetic"})
    started = time.perf_counter()
    for start in range(0, len(vectors), 1000):
        part = vectors[start : start + 1000]
        store.upsert([Point(str(uuid.UUID(int=start + i + 1)), v, {"source": "s"}) for i, v in enumerate(part)])
    loaded = time.perf_counter()
    store.optimize()
    return store, loaded - started, time.perf_counter() - loaded


def search_ids(store: EdgeStore, vector: np.ndarray, k: int, exact: bool, ef: int = SEARCH_EF) -> list[str]:
    """Top-k ids by exact scan of the float vectors, or as EdgeStore.search finds them (HNSW over the int8
    copies with candidate list `ef`, rescored with the float vectors)."""
    rescored = qe.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
    params = (
        qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
        if exact
        else qe.SearchParams(hnsw_ef=ef, quantization=rescored)
    )
    return top_ids(store._require_shard(), vector, k, params)


def top_ids(shard: qe.EdgeShard, vector: np.ndarray, k: int, params: qe.SearchParams) -> list[str]:
    """Ids of the k nearest points of `shard` under `params`, without payloads."""
    request = qe.QueryRequest(limit=k, query=qe.Query.Nearest(vector.tolist()), params=params, with_payload=False)
    return [str(p.id) for p in shard.query(request)]


def percentile_ms(samples: list[float], q: float) -> float:
    """The q-th percentile of samples given in seconds, in milliseconds."""
    return float(np.percentile(samples, q) * 1000)


def run(points: int, queries: int, embedder, rng: np.random.Generator, ef_sweep: list[int]) -> dict:
    """Measure one store size."""
    vectors = synthetic_vectors(points, embedder.dim, rng)
    with tempfile.TemporaryDirectory() as folder:
        store, load_s, build_s = build_store(Path(folder), vectors)
        encode_s, search_s, total_s, full_encode_s, transformers_encode_s = [], [], [], [], []
        for i in range(queries):
            text = QUERIES[i % len(QUERIES)] + f" {i}"
            embedder.reuse_prefix_states = False  # the same query without reusing the instruction's states
            t0 = time.perf_counter()
            embedder.encode_queries([text], task="web_search")
            full_encode_s.append(time.perf_counter() - t0)
            embedder.reuse_prefix_states = True
            embedder.use_lean_forward = False  # ... reusing them, through transformers' forward
            t0 = time.perf_counter()
            embedder.encode_queries([text], task="web_search")
            transformers_encode_s.append(time.perf_counter() - t0)
            embedder.use_lean_forward = True
            t0 = time.perf_counter()
            q = embedder.encode_queries([text], task="web_search")[0]
            t1 = time.perf_counter()
            store.search(q.tolist(), 10)
            t2 = time.perf_counter()
            encode_s.append(t1 - t0)
            search_s.append(t2 - t1)
            total_s.append(t2 - t0)
        probes = vectors[rng.integers(0, points, 100)] + 0.3 * rng.standard_normal((100, embedder.dim))
        probes /= np.linalg.norm(probes, axis=1, keepdims=True)
        exact = [set(search_ids(store, p, 10, True)) for p in probes]

        def recall_at(ef: int) -> float:
            hits = [len(set(search_ids(store, p, 10, False, ef)) & e) / 10 for p, e in zip(probes, exact, strict=True)]
            return round(float(np.mean(hits)), 4)

        recall = recall_at(SEARCH_EF)
        sweep = {ef: recall_at(ef) for ef in ef_sweep}
        store.close()
    return {
        "points": points,
        "queries": queries,
        "load_s": round(load_s, 1),
        "hnsw_build_s": round(build_s, 1),
        "p50_ms": round(percentile_ms(total_s, 50), 1),
        "p95_ms": round(percentile_ms(total_s, 95), 1),
        "p99_ms": round(percentile_ms(total_s, 99), 1),
        "encode_p50_ms": round(percentile_ms(encode_s, 50), 1),
        "search_p50_ms": round(percentile_ms(search_s, 50), 2),
        "encode_p50_ms_no_prefix_reuse": round(percentile_ms(full_encode_s, 50), 1),
        "encode_p50_ms_transformers_forward": round(percentile_ms(transformers_encode_s, 50), 1),
        "lean_forward": embedder.lean_forward() is not None,
        "recall_at_10": round(float(recall), 4),
        "recall_at_10_by_ef": sweep,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default")
    parser.add_argument("--points", default="10000,100000", help="Comma-separated store sizes.")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10k points, 50 queries, tiny model.")
    parser.add_argument("--ef-sweep", default="", help="Also report recall@10 at these hnsw_ef values, e.g. 128,512.")
    args = parser.parse_args()
    if args.quick:
        args.model, args.points, args.queries = "tiny", "10000", 50
    embedder = load_embedder(args.model)
    embedder.encode_queries(["warm-up"])
    rng = np.random.default_rng(0)
    sweep = [int(ef) for ef in args.ef_sweep.split(",") if ef]
    rows = [run(int(n), args.queries, embedder, rng, sweep) for n in args.points.split(",")]
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, model {args.model} ({embedder.dim}-d)")  # fmt: skip
    print(f"{'points':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'encode':>7} {'search':>7} {'recall@10':>9} "
          f"{'load s':>7} {'hnsw s':>7} {'encode: no prefix reuse':>24} {'transformers forward':>21}")  # fmt: skip
    for r in rows:
        print(f"{r['points']:>8} {r['p50_ms']:>7} {r['p95_ms']:>7} {r['p99_ms']:>7} {r['encode_p50_ms']:>7} "
              f"{r['search_p50_ms']:>7} {r['recall_at_10']:>9} {r['load_s']:>7} {r['hnsw_build_s']:>7} "
              f"{r['encode_p50_ms_no_prefix_reuse']:>24} {r['encode_p50_ms_transformers_forward']:>21}")  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"model": args.model, "results": rows, "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
