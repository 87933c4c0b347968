"""Reusing the instruction's key/value states must give the vectors of a full forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedder import load_embedder
from embedder.model import Embedder, EmbedderConfig

TEXTS = [
    "Where is the station?",
    "Wo ist der Bahnhof? Der Bahnhof liegt im Stadtzentrum, nahe dem Markt, gleich hinter der alten Post.",
    "猫",
    "",
    "Où est la gare ?",
]
TASK = "Given a question, retrieve passages that answer the question"


def _both_ways(embedder: Embedder, encode) -> tuple[np.ndarray, np.ndarray]:
    """Vectors with prefix reuse on and off."""
    embedder.reuse_prefix_states = False
    full = encode()
    embedder.reuse_prefix_states = True
    return full, encode()


def _variant(base: Embedder, **config) -> Embedder:
    """The same weights under another pooling / padding / length configuration."""
    values = {**base.config.__dict__, **config}
    return Embedder(base.model, base.tokenizer, EmbedderConfig(**values), base.adapter_sha256)


@pytest.mark.parametrize(
    "config",
    [{}, {"pooling": "mean"}, {"padding_side": "left"}, {"max_tokens": 24}],
    ids=["last-token", "mean", "left-padding", "truncated"],
)
@pytest.mark.parametrize("side", ["query", "document"])
def test_reused_prefix_gives_the_full_forward_vectors(tiny_embedder, config, side):
    embedder = _variant(tiny_embedder, **config)
    if side == "query":
        encode = lambda: embedder.encode_queries(TEXTS, task=TASK, batch_size=2)  # noqa: E731
    else:
        encode = lambda: embedder.encode_documents(TEXTS, batch_size=2)  # noqa: E731
    full, reused = _both_ways(embedder, encode)
    np.testing.assert_allclose(reused, full, atol=1e-5)
    np.testing.assert_array_equal(encode(), reused)  # using the cached states did not alter them


def test_the_prefix_is_forwarded_once_per_instruction(tiny_embedder):
    embedder = _variant(tiny_embedder)
    calls = []
    hook = embedder.model.register_forward_hook(
        lambda module, args, kwargs, out: calls.append(kwargs), with_kwargs=True
    )
    try:
        for _ in range(3):
            embedder.encode_queries(TEXTS[:1], task=TASK)
    finally:
        hook.remove()
    prefix_passes = [c for c in calls if c.get("past_key_values") is None]
    assert len(calls) == 4 and len(prefix_passes) == 1


def test_changed_weights_invalidate_the_cached_states():
    embedder = load_embedder("tiny", dtype="float32")
    before = embedder.encode_queries(TEXTS, task=TASK)
    with torch.no_grad():
        for param in embedder.model.parameters():
            param.mul_(1.5)  # what an optimizer step does: change weights in place
    after = embedder.encode_queries(TEXTS, task=TASK)
    embedder.reuse_prefix_states = False
    np.testing.assert_allclose(after, embedder.encode_queries(TEXTS, task=TASK), atol=1e-5)
    assert np.abs(after - before).max() > 1e-3
