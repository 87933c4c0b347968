"""Pooling of token states into one vector: last token (EOS) or mean without the instruction."""

from __future__ import annotations

from typing import Literal

import torch

PoolingMode = Literal["last_token", "mean"]
POOLING_MODES: tuple[str, ...] = ("last_token", "mean")


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """State of each row's last real token; correct for left and right padding."""
    seq_len = attention_mask.shape[1]
    # index of the last 1 in each row: flip, find the first 1, map back
    last = seq_len - 1 - attention_mask.flip(1).int().argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def mean_pool(hidden: torch.Tensor, pool_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the states where `pool_mask` is 1 (padding and instruction tokens are 0)."""
    weights = pool_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def pool(mode: PoolingMode, hidden: torch.Tensor, attention_mask: torch.Tensor, pool_mask: torch.Tensor):
    """Dispatch on the pooling mode name."""
    if mode == "last_token":
        return last_token_pool(hidden, attention_mask)
    if mode == "mean":
        return mean_pool(hidden, pool_mask)
    raise ValueError(f"unknown pooling {mode!r}: use one of {', '.join(POOLING_MODES)}")
