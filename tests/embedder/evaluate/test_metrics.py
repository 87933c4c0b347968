"""Retrieval and bitext metrics on small cases checked by hand."""

import math

import numpy as np
import pytest

from embedder.evaluate.metrics import bitext_accuracy, rank_and_score, retrieval_scores, spearman_x100, top_k


def test_perfect_ranking_scores_100():
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}}
    run = {"q1": {"d1": 0.9, "d2": 0.1}, "q2": {"d2": 0.9, "d3": 0.8, "d1": 0.1}}
    scores = retrieval_scores(qrels, run)
    assert scores == pytest.approx({"ndcg@10": 100, "recall@1": 75, "recall@10": 100, "recall@100": 100, "mrr@10": 100})


def test_known_permutation():
    # One relevant document ranked 3rd: nDCG = 1/log2(4) = 0.5, MRR = 1/3, R@1 = 0.
    # Two relevant at ranks 2 and 3: DCG = 1/log2(3) + 1/log2(4), IDCG = 1 + 1/log2(3).
    qrels = {"a": {"d3": 1}, "b": {"d2": 1, "d3": 1}}
    run = {"a": {"d1": 3.0, "d2": 2.0, "d3": 1.0}, "b": {"d1": 3.0, "d2": 2.0, "d3": 1.0}}
    ndcg_b = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    scores = retrieval_scores(qrels, run)
    assert scores["ndcg@10"] == pytest.approx(100 * (0.5 + ndcg_b) / 2)
    assert scores["mrr@10"] == pytest.approx(100 * (1 / 3 + 1 / 2) / 2)
    assert scores["recall@1"] == pytest.approx(0.0)
    assert scores["recall@10"] == pytest.approx(100.0)


def test_rank_and_score_from_vectors():
    docs = np.eye(3, dtype=np.float32)
    queries = np.array([[0.1, 0.2, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)  # q1 -> d3 first, q2 -> d1 first
    qrels = {"q1": {"d3": 1}, "q2": {"d2": 1}}
    scores = rank_and_score(["q1", "q2"], queries, ["d1", "d2", "d3"], docs, qrels)
    # q2's relevant d2 ties with d3 at cosine 0: rank 2 or 3, so only the R@1 and R@10 values are certain.
    assert scores["recall@1"] == pytest.approx(50.0)
    assert scores["recall@10"] == pytest.approx(100.0)


def test_top_k_orders_best_first():
    docs = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    indices, scores = top_k(np.array([[0, 1]], dtype=np.float32), docs, k=2)
    assert indices.tolist() == [[2, 1]]
    assert scores[0] == pytest.approx([1.0, 0.8])


def test_bitext_accuracy_both_directions():
    source = np.eye(3, dtype=np.float32)
    target = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0.1]], dtype=np.float32)  # row 2 is closer to source row 1
    scores = bitext_accuracy(source, target)
    assert scores["acc_xx>en"] == pytest.approx(100.0)  # each source row still finds its own target
    assert scores["acc_en>xx"] == pytest.approx(200 / 3)  # target row 2 finds source row 1
    assert scores["accuracy"] == pytest.approx((100 + 200 / 3) / 2)


def test_spearman_is_rank_based():
    assert spearman_x100([0.1, 0.2, 0.9], [1, 2, 3]) == pytest.approx(100.0)
    assert spearman_x100([3, 2, 1], [1, 2, 3]) == pytest.approx(-100.0)
