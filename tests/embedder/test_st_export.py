"""The sentence-transformers export reproduces the embedder's vectors on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from embedder.st_export import export_sentence_transformers

TEXTS = ["Where is the railway station?", "Der Bahnhof liegt im Zentrum der Stadt.", "猫がソファーで寝ている。", ""]


@pytest.fixture(scope="module")
def exported(tiny_embedder, tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    folder = export_sentence_transformers(tiny_embedder, tmp_path_factory.mktemp("st"))
    return SentenceTransformer(str(folder), device="cpu")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_documents_match(tiny_embedder, exported):
    ours = tiny_embedder.encode_documents(TEXTS)
    theirs = exported.encode(TEXTS, prompt_name="document", normalize_embeddings=True)
    assert _cosines(ours, theirs).min() > 0.9999


def test_queries_match_per_task(tiny_embedder, exported):
    for task in ("web_search", "sts"):
        ours = tiny_embedder.encode_queries(TEXTS, task=task)
        theirs = exported.encode(TEXTS, prompt_name=task)
        assert _cosines(ours, theirs).min() > 0.9999, task


def test_truncated_long_input_matches(tiny_embedder, exported):
    long_text = ["word " * (tiny_embedder.max_tokens * 3)]
    ours = tiny_embedder.encode_documents(long_text)
    theirs = exported.encode(long_text, prompt_name="document")
    assert _cosines(ours, theirs).min() > 0.9999
