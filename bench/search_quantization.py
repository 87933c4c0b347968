"""HNSW search on float vectors vs int8 scalar-quantised vectors with rescoring: recall@10 and time per query.

.venv/bin/python bench/search_quantization.py                  # 100k points, 100 probes
.venv/bin/python bench/search_quantization.py --quick          # 10k points (< 1 min)

Two embedded Qdrant shards (qdrant-edge) hold the same synthetic 640-d vectors (bench/query_latency.py's
low-intrinsic-dimension generator); one plain, one with int8 scalar quantisation as EdgeStore creates it.
For each hnsw_ef the probes (stored vectors plus noise) are searched; recall@10 is against an exact scan of
the float vectors. The quantised shard is searched with and without rescoring the best OVERSAMPLING x k
candidates on the float vectors.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid

import numpy as np
import qdrant_edge as qe
from query_latency import synthetic_vectors, top_ids

from indexer.store.base import OVERSAMPLING, QUANTIZATION_QUANTILE

EFS = (128, 256, 512, 1024)


def build_shard(folder: str, vectors: np.ndarray, quantized: bool) -> tuple[qe.EdgeShard, float]:
    """A shard holding `vectors`, optimised (HNSW built); returns it with the build seconds."""
    quantization = qe.ScalarQuantizationConfig(type=qe.ScalarType.Int8, quantile=QUANTIZATION_QUANTILE, always_ram=True)
    config = qe.EdgeConfig(
        vectors=qe.EdgeVectorParams(size=vectors.shape[1], distance=qe.Distance.Cosine),
        quantization_config=quantization if quantized else None,
    )
    shard = qe.EdgeShard.create(folder, config)
    for start in range(0, len(vectors), 1000):
        part = vectors[start : start + 1000]
        points = [qe.Point(str(uuid.UUID(int=start + i + 1)), v.tolist(), {}) for i, v in enumerate(part)]
        shard.update(qe.UpdateOperation.upsert_points(points))
    started = time.perf_counter()
    shard.optimize()
    return shard, time.perf_counter() - started


def sweep(shard: qe.EdgeShard, probes: np.ndarray, exact: list[set[str]], quantization) -> dict:
    """{ef: [recall@10, median ms per query]} for every ef in EFS."""
    out = {}
    for ef in EFS:
        params = qe.SearchParams(hnsw_ef=ef, quantization=quantization)
        hits, times = [], []
        for probe, truth in zip(probes, exact, strict=True):
            started = time.perf_counter()
            found = top_ids(shard, probe, 10, params)
            times.append(time.perf_counter() - started)
            hits.append(len(set(found) & truth) / 10)
        out[ef] = [round(float(np.mean(hits)), 3), round(float(np.median(times)) * 1000, 2)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10k points.")
    args = parser.parse_args()
    if args.quick:
        args.points = 10_000
    rng = np.random.default_rng(0)
    vectors = synthetic_vectors(args.points, 640, rng)
    probes = vectors[rng.integers(0, args.points, args.probes)] + 0.3 * rng.standard_normal((args.probes, 640))
    probes = (probes / np.linalg.norm(probes, axis=1, keepdims=True)).astype(np.float32)
    rescored = qe.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
    exact_scan = qe.SearchParams(exact=True, quantization=qe.QuantizationSearchParams(ignore=True))
    results = {}
    for name, quantized, search_with in (
        ("float", False, None),
        ("int8", True, qe.QuantizationSearchParams(rescore=False)),
        (f"int8+rescore x{OVERSAMPLING:g}", True, rescored),
    ):
        with tempfile.TemporaryDirectory() as folder:
            shard, build_s = build_shard(folder, vectors, quantized)
            exact = [set(top_ids(shard, p, 10, exact_scan)) for p in probes]
            results[name] = {"build_s": round(build_s, 1), "by_ef": sweep(shard, probes, exact, search_with)}
            shard.close()
    print(f"{args.points} points, 640-d, {args.probes} probes; cells: recall@10 / ms per query")
    print(f"{'variant':<18} {'build s':>8} " + " ".join(f"{'ef ' + str(ef):>14}" for ef in EFS))
    for name, r in results.items():
        cells = " ".join(f"{f'{rec} / {ms}':>14}" for rec, ms in r["by_ef"].values())
        print(f"{name:<18} {r['build_s']:>8} {cells}")
    print(json.dumps({"points": args.points, "probes": args.probes, "results": results}))


if __name__ == "__main__":
    main()
