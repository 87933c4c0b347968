"""RMSNorm layers as one `F.rms_norm` call each, for serving fp32 models.

transformers writes RMSNorm as ~8 small tensor ops in Python (float cast, pow, mean, add, rsqrt, two muls,
cast back). Gemma-3-270M runs 109 of them per forward, a few milliseconds of a ~50 ms single query on a
2-core CPU; torch's own `F.rms_norm` does the same arithmetic in one call, about twice as fast per norm
(measured: docs/BENCHMARKS.md) and equal in fp32. Gemma's norm scales by (1 + weight), Llama/Qwen2's by
weight; the scale is folded in once here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# class name -> (epsilon attribute, whether the scale is 1 + weight)
KNOWN_NORMS = {
    "Gemma3RMSNorm": ("eps", True),
    "Qwen2RMSNorm": ("variance_epsilon", False),
    "LlamaRMSNorm": ("variance_epsilon", False),
}


class FusedRMSNorm(torch.nn.Module):
    """x / rms(x) * scale over the last dimension, in one call; inference only (the scale is a buffer)."""

    def __init__(self, scale: torch.Tensor, eps: float) -> None:
        super().__init__()
        self.register_buffer("scale", scale.detach().float().clone())
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.scale.shape, self.scale, self.eps)

    def extra_repr(self) -> str:
        return f"{tuple(self.scale.shape)}, eps={self.eps}"


def fuse_rms_norms(model: torch.nn.Module) -> int:
    """Replace, in place, every known fp32 RMSNorm of `model` by a FusedRMSNorm; returns how many."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            known = KNOWN_NORMS.get(type(child).__name__)
            if known is None or child.weight.dtype != torch.float32:
                continue
            eps_attribute, offset = known
            scale = child.weight + 1.0 if offset else child.weight
            setattr(parent, name, FusedRMSNorm(scale, getattr(child, eps_attribute)))
            replaced += 1
    return replaced
