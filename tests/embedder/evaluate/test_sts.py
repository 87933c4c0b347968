"""Tests for the STS loader and Spearman metric."""

from pathlib import Path

import numpy as np
import pytest

from embedder.evaluate.sts import load_sts_tsv, sts_spearman

STSB_EN_TEST = Path("sts/stsb_multi_mt/en/test.tsv")  # under the shared data root


class _Lookup:
    """Fake encoder: each text maps to a fixed 2-d vector."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors

    def encode_queries(self, texts, task=None, **_):
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def test_perfect_order_gives_100():
    model = _Lookup({"a": [1, 0], "b": [1, 0], "c": [1, 1], "d": [0, 1]})
    rows = [("a", "b", 5.0), ("a", "c", 3.0), ("a", "d", 0.0)]
    assert sts_spearman(model, rows) == pytest.approx(100.0)


def test_reads_tsv_with_quotes(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text('sentence1\tsentence2\tscore\n"hi\tthere"\t1.5\n', encoding="utf-8")
    assert load_sts_tsv(path) == [('"hi', 'there"', 1.5)]


def test_stsb_en_test_row_count(data_root):
    assert len(load_sts_tsv(data_root / STSB_EN_TEST)) == 1379
    assert len(load_sts_tsv(data_root / STSB_EN_TEST, limit=10)) == 10
