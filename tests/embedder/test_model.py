"""Embedder behaviour on the tiny random backbone: padding parity, instructions, adapters, contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedder import load_embedder
from embedder.instructions import UnknownTaskError

TEXTS = ["Where is the station?", "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum, nahe dem Markt.", "猫"]
TASK = "Given a question, retrieve passages that answer it"


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_vectors_are_normalised_float32(tiny_embedder):
    vectors = tiny_embedder.encode_documents(TEXTS)
    assert vectors.shape == (3, tiny_embedder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("side", ["query", "document"])
def test_batching_does_not_change_vectors(tiny_embedder, side):
    encode = (
        (lambda t, b: tiny_embedder.encode_queries(t, task=TASK, batch_size=b))
        if side == "query"
        else (lambda t, b: tiny_embedder.encode_documents(t, batch_size=b))
    )
    alone = np.vstack([encode([t], 1) for t in TEXTS])
    padded = encode(TEXTS, 8)
    assert _cosine_rows(alone, padded).min() > 0.9999


def test_query_instruction_changes_queries_not_documents(tiny_embedder):
    qa = tiny_embedder.encode_queries(TEXTS, task=TASK)
    qb = tiny_embedder.encode_queries(TEXTS, task="Retrieve parallel sentences")
    assert _cosine_rows(qa, qb).max() < 0.9999
    da = tiny_embedder.encode_documents(TEXTS)
    db = tiny_embedder.encode_documents(TEXTS)
    np.testing.assert_allclose(da, db, atol=1e-6)


def test_document_instruction_applies_to_documents_only(tiny_embedder):
    default_docs = tiny_embedder.encode_documents(TEXTS)
    other_docs = tiny_embedder.encode_documents(TEXTS, instruction="Represent the passage: ")
    assert _cosine_rows(default_docs, other_docs).max() < 0.9999
    queries = tiny_embedder.encode_queries(TEXTS, task=TASK)
    assert _cosine_rows(default_docs, queries).max() < 0.9999


def test_one_string_is_rejected_with_a_hint(tiny_embedder):
    with pytest.raises(TypeError, match="list of texts"):
        tiny_embedder.encode_documents("just one string")


def test_unknown_name_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="cannot load embedder"):
        load_embedder("no-such-model")


def test_unknown_task_short_name_is_an_error(tiny_embedder):
    with pytest.raises(UnknownTaskError):
        tiny_embedder.encode_queries(["x"], task="nosuchtask")


@pytest.fixture(scope="module")
def saved_adapter(tmp_path_factory):
    """A tiny embedder with a non-zero LoRA adapter, saved to a folder."""
    from embedder.train.config import TrainConfig
    from embedder.train.trainer import build_trainable

    torch.manual_seed(0)
    trainable = build_trainable(TrainConfig(backbone="tiny", dtype="float32", max_tokens=64))
    with torch.no_grad():
        for name, param in trainable.model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # peft starts B at zero (a no-op adapter); make it change vectors
    folder = trainable.save(tmp_path_factory.mktemp("adapter") / "tiny-tuned")
    return trainable, folder


def test_adapter_round_trip_gives_identical_vectors(saved_adapter):
    trainable, folder = saved_adapter
    trainable.model.eval()
    before = trainable.encode_documents(TEXTS)
    for merge in (False, True):
        loaded = load_embedder(folder, dtype="float32", merge_adapter=merge, optimize_for_cpu=False)
        np.testing.assert_allclose(loaded.encode_documents(TEXTS), before, atol=1e-5)


def test_contract_changes_with_adapter(saved_adapter, tiny_embedder):
    _, folder = saved_adapter
    tuned = load_embedder(folder, dtype="float32")
    assert tuned.contract["adapter_sha256"] and tiny_embedder.contract["adapter_sha256"] is None
    assert tuned.contract != tiny_embedder.contract
    assert _cosine_rows(tuned.encode_documents(TEXTS), tiny_embedder.encode_documents(TEXTS)).max() < 0.999


@pytest.mark.slow
def test_gemma_default_puts_translations_together():
    """The shipped default: a German question is nearer its English translation than an unrelated sentence."""
    embedder = load_embedder()
    query = embedder.encode_queries(["Wo ist der Bahnhof?"], task=TASK)
    assert query.shape == (1, 640)
    docs = embedder.encode_documents(["Where is the railway station?", "I like to eat apples in the summer."])
    scores = (query @ docs.T)[0]
    assert scores[0] > scores[1]
