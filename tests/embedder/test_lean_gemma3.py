"""The lean single-query forward of a CPU-served Gemma-3 gives transformers' vectors, and only runs where it may."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, Gemma3TextConfig, Gemma3TextModel

from embedder import load_embedder
from embedder.backbones import backbone_path
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


def _spy(embedder) -> list[int]:
    """Record the token count of every lean forward call of `embedder`."""
    calls: list[int] = []
    lean = embedder.lean_forward()

    def recording(input_ids, past, **options):
        calls.append(input_ids.shape[1])
        return lean(input_ids, past, **options)

    recording.fits = lean.fits
    embedder._lean = (embedder.model, recording)
    return calls


def test_served_gemma3_uses_it_and_other_models_do_not(tiny_gemma3):
    assert supports_lean_forward(load_embedder(tiny_gemma3, dtype="float32").model)
    assert not supports_lean_forward(load_embedder(tiny_gemma3, dtype="float32", optimize_for_cpu=False).model)
    assert not supports_lean_forward(load_embedder("tiny", dtype="float32").model)  # Qwen2
    assert load_embedder("tiny", dtype="float32").lean_forward() is None
    served = load_embedder(tiny_gemma3, dtype="float32")
    served.lean_single_query = False
    assert served.lean_forward() is None
    with pytest.raises(ValueError, match="optimize_for_cpu"):
        LeanGemma3(load_embedder(tiny_gemma3, dtype="float32", optimize_for_cpu=False).model)


def test_hidden_states_equal_transformers_forward(tiny_gemma3):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    prefix = embedder._tokenized.shared_prefix_ids(embedder.query_prefix(TASK))
    cached = embedder._prefix_cache.get(embedder.model, prefix)
    for text in QUERIES[:3]:
        ids = embedder._tokenized.encode([text], embedder.query_prefix(TASK))[0][0][len(prefix) :]
        input_ids = torch.tensor([ids])
        with torch.inference_mode():
            expected = embedder.model(
                input_ids=input_ids,
                position_ids=torch.arange(len(prefix), len(prefix) + len(ids)).unsqueeze(0),
                past_key_values=cached.expanded(1),
                use_cache=True,
            ).last_hidden_state
        got = embedder.lean_forward()(input_ids, cached.past)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
        last = embedder.lean_forward()(input_ids, cached.past, last_only=True)
        torch.testing.assert_close(last, expected[:, -1:], atol=1e-5, rtol=1e-5)
        assert cached.past.layers[0].keys.shape[2] == len(prefix)  # the cached states were not extended


@pytest.mark.parametrize("pooling", ["last_token", "mean"])
def test_single_query_vectors_equal_full_forward(tiny_gemma3, pooling):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    embedder.config.pooling = pooling
    calls = _spy(embedder)
    lean = np.concatenate([embedder.encode_queries([text], task=TASK) for text in QUERIES])
    assert len(calls) == len(QUERIES)  # every single query took the lean path
    embedder.reuse_prefix_states = False
    full = embedder.encode_queries(QUERIES, task=TASK)
    np.testing.assert_allclose(lean, full, atol=1e-5)


def test_batches_and_texts_beyond_the_sliding_window_go_through_transformers(tiny_gemma3):
    embedder = load_embedder(tiny_gemma3, dtype="float32")
    calls = _spy(embedder)
    batch = embedder.encode_queries(QUERIES[:2], task=TASK)
    long = embedder.encode_queries([LONG_QUERY], task=TASK)
    assert calls == []
    prefix = embedder._tokenized.shared_prefix_ids(embedder.query_prefix(TASK))
    ids = embedder._tokenized.encode([LONG_QUERY], embedder.query_prefix(TASK))[0]
    assert len(ids[0]) > SLIDING_WINDOW and embedder._can_reuse(prefix, ids)  # only the window stops it
    embedder.reuse_prefix_states = False
    np.testing.assert_allclose(batch, embedder.encode_queries(QUERIES[:2], task=TASK), atol=1e-5)
    np.testing.assert_allclose(long, embedder.encode_queries([LONG_QUERY], task=TASK), atol=1e-5)
