"""CPU serving layers (fp16 weight matrices, fused RMSNorm): on by default where they apply, same vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.models.gemma3.modeling_gemma3 import Gemma3TextScaledWordEmbedding

from embedder import load_embedder
from embedder.fp16_weights import (
    Fp16StoredEmbedding,
    fp16_weights_available,
    has_fp16_weights,
    with_fp16_weights,
)
from embedder.fused_norms import FusedRMSNorm
from embedder.st_export import export_sentence_transformers

TEXTS = ["Where is the station?", "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum, nahe dem Markt.", "猫"]

pytestmark = pytest.mark.skipif(not fp16_weights_available(), reason="torch has no fbgemm kernels on this CPU")


@pytest.fixture(scope="module")
def plain_and_fp16():
    return load_embedder("tiny", dtype="float32", optimize_for_cpu=False), load_embedder("tiny", dtype="float32")


def test_fp32_cpu_default_serves_fp16_weights_and_fused_norms(plain_and_fp16):
    plain, fp16 = plain_and_fp16
    assert has_fp16_weights(fp16.model)
    assert not has_fp16_weights(plain.model)
    assert not any(isinstance(m, torch.nn.Linear) for m in fp16.model.modules())
    assert any(isinstance(m, FusedRMSNorm) for m in fp16.model.modules())
    assert not any(isinstance(m, FusedRMSNorm) for m in plain.model.modules())


@pytest.mark.parametrize("side", ["queries", "documents"])
def test_vectors_match_fp32_within_fp16_rounding(plain_and_fp16, side):
    plain, fp16 = plain_and_fp16
    expected = getattr(plain, f"encode_{side}")(TEXTS)
    got = getattr(fp16, f"encode_{side}")(TEXTS)
    assert not np.array_equal(got, expected)  # the weights really changed precision
    np.testing.assert_allclose(got, expected, atol=2e-3)
    assert (got * expected).sum(axis=1).min() > 0.9999


def test_bf16_model_is_left_alone():
    assert not has_fp16_weights(load_embedder("tiny", dtype="bfloat16").model)


def test_unmerged_adapter_is_refused_by_name(tmp_path):
    from embedder.train.config import TrainConfig
    from embedder.train.trainer import build_trainable

    folder = build_trainable(TrainConfig(backbone="tiny", dtype="float32", max_tokens=64)).save(tmp_path / "tuned")
    assert not has_fp16_weights(load_embedder(folder, dtype="float32", merge_adapter=False).model)
    with pytest.raises(ValueError, match="merge_adapter=True"):
        load_embedder(folder, dtype="float32", merge_adapter=False, optimize_for_cpu=True)


def test_non_fp32_model_is_refused():
    model = load_embedder("tiny", dtype="bfloat16").model
    with pytest.raises(ValueError, match="fp32 CPU models"):
        with_fp16_weights(model)


def test_export_asks_for_an_fp32_load(plain_and_fp16, tmp_path):
    with pytest.raises(ValueError, match="optimize_for_cpu=False"):
        export_sentence_transformers(plain_and_fp16[1], tmp_path / "st")


def test_embedding_table_is_stored_in_fp16_and_looked_up_in_fp32(plain_and_fp16):
    plain, fp16 = plain_and_fp16
    table = fp16.model.get_input_embeddings()
    assert isinstance(table, Fp16StoredEmbedding) and table.weight.dtype == torch.float16
    ids = torch.tensor([[0, 5, 17, 42]])
    expected = plain.model.get_input_embeddings()(ids).half().float()
    assert torch.equal(table(ids), expected)


def test_gemma_embedding_scale_is_kept():
    embedding = Gemma3TextScaledWordEmbedding(50, 8, 0, embed_scale=8**0.5)
    with torch.no_grad():
        embedding.weight.copy_(embedding.weight.half().float())  # fp16-exact values, as Gemma-3-270M's are
    ids = torch.tensor([[1, 2, 49]])
    assert torch.equal(Fp16StoredEmbedding(embedding)(ids), embedding(ids))
