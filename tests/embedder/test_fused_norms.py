"""One-call RMSNorm gives the same outputs as transformers' Gemma3 and Qwen2 norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.models.gemma3.modeling_gemma3 import Gemma3RMSNorm
from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm

from embedder import load_embedder
from embedder.fused_norms import FusedRMSNorm, fuse_rms_norms

TEXTS = ["Where is the station?", "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum, nahe dem Markt.", "猫"]


@pytest.mark.parametrize("norm_class", [Gemma3RMSNorm, Qwen2RMSNorm])
def test_fused_norm_equals_the_original(norm_class):
    torch.manual_seed(0)
    holder = torch.nn.Sequential(norm_class(64, eps=1e-6))
    torch.nn.init.normal_(holder[0].weight)
    x = torch.randn(2, 5, 64) * 30  # large activations, as in Gemma's residual stream
    with torch.no_grad():
        expected = holder(x)
        assert fuse_rms_norms(holder) == 1
        assert isinstance(holder[0], FusedRMSNorm)
        torch.testing.assert_close(holder(x), expected, rtol=1e-6, atol=1e-6)


def test_bf16_norms_are_left_alone():
    holder = torch.nn.Sequential(Gemma3RMSNorm(8).to(torch.bfloat16))
    assert fuse_rms_norms(holder) == 0


def test_fused_tiny_model_gives_the_same_vectors():
    embedder = load_embedder("tiny", dtype="float32", optimize_for_cpu=False)
    expected = embedder.encode_documents(TEXTS)
    assert fuse_rms_norms(embedder.model) == 5  # 2 layers x 2 norms + the final norm
    np.testing.assert_allclose(embedder.encode_documents(TEXTS), expected, atol=1e-6)
