"""The lean forward of a CPU-served Gemma-3 gives transformers' vectors, and only runs where it may."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, Gemma3TextConfig, Gemma3TextModel

from embedder import lean_gemma3, load_embedder
from embedder.backbones import backbone_path
from embedder.batching import pad
from embedder.fp16_weights import fp16_weights_available
from embedder.lean_gemma3 import LeanGemma3, supports_lean_forward

SLIDING_WINDOW = 24
TASK = "Given a question, retrieve passages that answer the question"
QUERIES = ["Where is the station?", "Wo ist der Bahnhof?", "猫", ""]
LONG_QUERY = "Where is the railway station? The station is in the city centre."  # 31 tokens with the prefix

pytestmark = pytest.mark.skipif(not fp16_weights_available(), reason="torch has no fbgemm kernels on this CPU")


@pytest.fixture(scope="module")
def tiny_gemma3(tmp_path_factory) -> str:
    """A random 3-layer Gemma-3 text model (two sliding-window layers, one full) with the tiny tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-gemma3")
    tokenizer = AutoTokenizer.from_pretrained(backbone_path("tiny"))
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        query_pre_attn_scalar=16,
        sliding_window=SLIDING_WINDOW,
        layer_types=["sliding_attention", "sliding_attention", "full_attention"],
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    model = Gemma3TextModel(config)
    with torch.no_grad():  # Gemma initialises its norm weights to 0 (scale 1); make them matter
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(0, 0.3)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _spy(embedder) -> list[list[int]]:
    """Record the sequence lengths of every lean forward call of `embedder`."""
    calls: list[list[int]] = []
    lean = embedder.lean_forward()

    def recording(sequences, past=None, **options):
        calls.append([len(s) for s in sequences])
        return lean(sequences, past, **options)

    recording.fits = lean.fits
    embedder._lean = (embedder.model, recording)
    return calls


def _transformers_vectors(embedder, texts: list[str], **options) -> np.ndarray:
    embedder.use_lean_forward = False
    try:
        return embedder.encode_queries(texts, task=TASK, **options)
    finally:
        embedder.use_lean_forward = True


def test_served_gemma3_uses_it_and_other_models_do_not(tiny_gemma3):
    assert supports_lean_forward(load_embedder(tiny_gemma3, dtype="float32").model)
    assert not supports_lean_forward(load_embedder(tiny_gemma3, dtype="float32", optimize_for_cpu=False).model)
    assert not supports_lean_forward(load_embedder("tiny", dtype="float32").model)  # Qwen2
    assert load_embedder("tiny", dtype="float32").lean_forward() is None
    served = load_embedder(tiny_gemma3, dtype="float32")
    served.use_lean_forward = False
    assert served.lean_forward() is None
    with pytest.raises(ValueError, match="optimize_for_cpu"):
        LeanGemma3(load_embedder(tiny_gemma3, dtype="float32", optimize_for_cpu=False).model)


def test_hidden_states_after_a_cached_prefix_equal_transformers_forward(tiny_gemma3):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    prefix = embedder._tokenized.shared_prefix_ids(embedder.query_prefix(TASK))
    cached = embedder._prefix_cache.get(embedder.model, prefix)
    for text in QUERIES[:3]:
        ids = embedder._tokenized.encode([text], embedder.query_prefix(TASK))[0][0][len(prefix) :]
        with torch.inference_mode():
            expected = embedder.model(
                input_ids=torch.tensor([ids]),
                position_ids=torch.arange(len(prefix), len(prefix) + len(ids)).unsqueeze(0),
                past_key_values=cached.expanded(1),
                use_cache=True,
            ).last_hidden_state[0]
        got = embedder.lean_forward()([torch.tensor(ids)], cached.past)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        last = embedder.lean_forward()([torch.tensor(ids)], cached.past, last_only=True)
        torch.testing.assert_close(last, expected[-1:], atol=1e-5, rtol=1e-5)
        assert cached.past.layers[0].keys.shape[2] == len(prefix)  # the cached states were not extended


@pytest.mark.parametrize("row_block", [512, 5])  # 5: row blocks that cut through sequences
def test_packed_sequences_equal_transformers_padded_forward(tiny_gemma3, monkeypatch, row_block):
    monkeypatch.setattr(lean_gemma3, "ROW_BLOCK", row_block)
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    ids = embedder._tokenized.encode(QUERIES, embedder.query_prefix(TASK))[0]
    batch = pad(ids, [0] * len(ids), embedder.pad_id, "right")
    with torch.inference_mode():
        expected = embedder.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids
        ).last_hidden_state
    lean = embedder.lean_forward()
    packed = lean([torch.tensor(s) for s in ids])
    rows = torch.cat([expected[i, : len(s)] for i, s in enumerate(ids)])
    torch.testing.assert_close(packed, rows, atol=1e-5, rtol=1e-5)
    last = lean([torch.tensor(s) for s in ids], last_only=True)
    torch.testing.assert_close(last, torch.stack([expected[i, len(s) - 1] for i, s in enumerate(ids)]), atol=1e-5,
                               rtol=1e-5)  # fmt: skip


@pytest.mark.parametrize("pooling", ["last_token", "mean"])
def test_vectors_equal_transformers_forward_one_by_one_and_in_batches(tiny_gemma3, pooling):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    embedder.config.pooling = pooling
    calls = _spy(embedder)
    one_by_one = np.concatenate([embedder.encode_queries([text], task=TASK) for text in QUERIES])
    batched = embedder.encode_queries(QUERIES, task=TASK, batch_size=3)
    assert len(calls) == len(QUERIES) + 2  # every query, alone and in batches of 3, took the lean path
    expected = _transformers_vectors(embedder, QUERIES)
    np.testing.assert_allclose(one_by_one, expected, atol=1e-5)
    np.testing.assert_allclose(batched, expected, atol=1e-5)
    embedder.reuse_prefix_states = False  # whole sequences, no cached prefix
    np.testing.assert_allclose(embedder.encode_queries(QUERIES, task=TASK), expected, atol=1e-5)
    assert len(calls) == len(QUERIES) + 3


def test_texts_beyond_the_sliding_window_go_through_transformers(tiny_gemma3):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    calls = _spy(embedder)
    long = embedder.encode_queries([LONG_QUERY, QUERIES[0]], task=TASK)
    assert calls == []
    prefix = embedder._tokenized.shared_prefix_ids(embedder.query_prefix(TASK))
    ids = embedder._tokenized.encode([LONG_QUERY], embedder.query_prefix(TASK))[0]
    assert len(ids[0]) > SLIDING_WINDOW and embedder._can_reuse(prefix, ids)  # only the window stops it
    embedder.reuse_prefix_states = False
    np.testing.assert_allclose(long, embedder.encode_queries([LONG_QUERY, QUERIES[0]], task=TASK), atol=1e-5)
