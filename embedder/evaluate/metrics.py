"""Metrics: ranx for retrieval (nDCG@10, Recall@k, MRR@10), scipy Spearman for STS, nearest-neighbour bitext accuracy.

Only the ranking (top-k by cosine) is computed here; the IR measures themselves come from ranx so their
definitions (ties, cut-offs, graded relevance) are the community's, not ours.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import spearmanr

RETRIEVAL_METRICS = ["ndcg@10", "recall@1", "recall@10", "recall@100", "mrr@10"]
TOP_K = 100  # deepest cut-off among RETRIEVAL_METRICS: the run keeps this many documents per query


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (models that already normalise are unchanged)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def spearman_x100(predicted: np.ndarray, gold: list[float] | np.ndarray) -> float:
    """Spearman rank correlation x100 (scipy.stats.spearmanr)."""
    return float(spearmanr(predicted, gold).statistic * 100)


def top_k(queries: np.ndarray, docs: np.ndarray, k: int = TOP_K, chunk_rows: int = 1024):
    """Indices and cosines of each query's k best documents, best first (chunked to bound memory)."""
    queries, docs = normalize(queries), normalize(docs)
    k = min(k, len(docs))
    indices = np.empty((len(queries), k), dtype=np.int64)
    scores = np.empty((len(queries), k), dtype=np.float32)
    for start in range(0, len(queries), chunk_rows):
        sims = queries[start : start + chunk_rows] @ docs.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(sims, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        indices[start : start + chunk_rows] = np.take_along_axis(part, order, axis=1)
        scores[start : start + chunk_rows] = np.take_along_axis(part_scores, order, axis=1)
    return indices, scores


def retrieval_scores(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], metrics: list[str] = RETRIEVAL_METRICS
) -> dict[str, float]:
    """ranx's measures of `run` against `qrels`, each x100."""
    from ranx import Qrels, Run, evaluate

    with warnings.catch_warnings():
        # ranx's numba kernels warn about a uint64 -> int64 cast that cannot overflow at these sizes.
        warnings.simplefilter("ignore")
        scores = evaluate(Qrels(qrels), Run(run), metrics, make_comparable=True)
    if isinstance(scores, float):  # ranx returns a bare float for a single metric
        scores = {metrics[0]: scores}
    return {name: float(value) * 100 for name, value in scores.items()}


def rank_and_score(
    query_ids: list[str],
    query_vectors: np.ndarray,
    doc_ids: list[str],
    doc_vectors: np.ndarray,
    qrels: dict[str, dict[str, int]],
    k: int = TOP_K,
) -> dict[str, float]:
    """Rank the documents for every query by cosine and score the top k with ranx."""
    indices, scores = top_k(query_vectors, doc_vectors, k)
    run = {
        qid: {doc_ids[j]: float(s) for j, s in zip(row, row_scores, strict=True)}
        for qid, row, row_scores in zip(query_ids, indices, scores, strict=True)
    }
    return retrieval_scores(qrels, run)


def bitext_accuracy(source: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Nearest-neighbour accuracy x100 of aligned translations, both directions and their mean.

    Row i of `source` translates row i of `target`; a hit is when the most similar row on the other side
    is row i. (MTEB scores Tatoeba xx->en with the same nearest-neighbour rule.)
    """
    sims = normalize(source) @ normalize(target).T
    gold = np.arange(len(sims))
    forward = float(np.mean(sims.argmax(axis=1) == gold) * 100)
    backward = float(np.mean(sims.argmax(axis=0) == gold) * 100)
    return {"acc_xx>en": forward, "acc_en>xx": backward, "accuracy": (forward + backward) / 2}
