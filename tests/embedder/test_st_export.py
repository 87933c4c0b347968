"""The sentence-transformers export reproduces the embedder's vectors on both sides."""

from __future__ import annotations

import numpy as np
import pytest

from embedder.st_export import export_sentence_transformers

TEXTS = ["Where is the railway station?", "Der Bahnhof liegt im Zentrum der Stadt.", "猫がソファーで寝ている。", ""]


@pytest.fixture(scope="module")
def plain_tiny():
    """The tiny backbone with plain fp32 Linear layers (fp16 weight layers do not save)."""
    from embedder import load_embedder

    return load_embedder("tiny", dtype="float32", optimize_for_cpu=False)


@pytest.fixture(scope="module")
def exported(plain_tiny, tmp_path_factory):
    from sentence_transformers import SentenceTransformer

    folder = export_sentence_transformers(plain_tiny, tmp_path_factory.mktemp("st"))
    return SentenceTransformer(str(folder), device="cpu")


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_documents_match(plain_tiny, exported):
    ours = plain_tiny.encode_documents(TEXTS)
    theirs = exported.encode(TEXTS, prompt_name="document", normalize_embeddings=True)
    assert _cosines(ours, theirs).min() > 0.9999


def test_queries_match_per_task(plain_tiny, exported):
    for task in ("web_search", "sts"):
        ours = plain_tiny.encode_queries(TEXTS, task=task)
        theirs = exported.encode(TEXTS, prompt_name=task)
        assert _cosines(ours, theirs).min() > 0.9999, task


def test_truncated_long_input_matches(plain_tiny, exported):
    long_text = ["word " * (plain_tiny.max_tokens * 3)]
    ours = plain_tiny.encode_documents(long_text)
    theirs = exported.encode(long_text, prompt_name="document")
    assert _cosines(ours, theirs).min() > 0.9999
