"""A lean inference forward of Gemma-3's text model for one query after its cached instruction states.

A search query is ~12 tokens after its cached instruction. For so few rows, the time outside the matmuls
matters: transformers' forward builds masks and cache objects and goes through ~300 module calls, each
with its hook checks. This module does the same math as `transformers.models.gemma3.modeling_gemma3`
(sandwich RMSNorms, q/k norms, RoPE, scaled attention over prefix + new tokens, GELU-tanh MLP) as plain
tensor ops on weights gathered once, which measured ~7 ms faster per query than transformers' forward on a
2-core CPU (docs/BENCHMARKS.md); tests check it against transformers' forward. It covers exactly one case:
an inference-only fp32 model prepared by `load_embedder(optimize_for_cpu=...)` (fp16 weight matrices or
plain linears, fused norms), one unpadded sequence, after cached prefix states, inside the sliding window
(so sliding and full attention layers see the same tokens). Everything else goes through transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from embedder.fp16_weights import is_fp16_linear
from embedder.fused_norms import FusedRMSNorm

Linear = Callable[[torch.Tensor], torch.Tensor]


def _linear_op(module: torch.nn.Module) -> Linear:
    """The bare op behind a bias-free linear layer (fp16 packed weights or a plain fp32 matrix)."""
    if is_fp16_linear(module):  # the op overload itself: the packet's Python dispatch check costs ~10 us a call
        return partial(torch.ops.quantized.linear_dynamic_fp16.default, W_prepack=module._packed_params._packed_params)
    return partial(F.linear, weight=module.weight)


@dataclass
class _Layer:
    """The weights of one decoder layer, ready for direct calls."""

    q: Linear
    k: Linear
    v: Linear
    o: Linear
    gate: Linear
    up: Linear
    down: Linear
    input_norm: torch.Tensor
    post_attention_norm: torch.Tensor
    pre_mlp_norm: torch.Tensor
    post_mlp_norm: torch.Tensor
    q_norm: torch.Tensor
    k_norm: torch.Tensor
    head_dim: int
    scaling: float
    layer_type: str


def supports_lean_forward(model: torch.nn.Module) -> bool:
    """True for a Gemma-3 text model prepared for CPU serving whose layers this module reproduces."""
    if type(model).__name__ != "Gemma3TextModel" or model.training:
        return False
    config = model.config
    plain_attention = (
        not getattr(config, "use_bidirectional_attention", False)
        and config.attn_logit_softcapping is None
        and set(config.layer_types) <= {"sliding_attention", "full_attention"}
        and config.hidden_activation == "gelu_pytorch_tanh"
    )
    norms = [model.norm]
    linears = []
    for layer in model.layers:
        attention, mlp = layer.self_attn, layer.mlp
        norms += [attention.q_norm, attention.k_norm, layer.input_layernorm, layer.post_attention_layernorm,
                  layer.pre_feedforward_layernorm, layer.post_feedforward_layernorm]  # fmt: skip
        linears += [attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj,
                    mlp.gate_proj, mlp.up_proj, mlp.down_proj]  # fmt: skip
    return (
        plain_attention
        and all(isinstance(norm, FusedRMSNorm) for norm in norms)
        and all(is_fp16_linear(m) or (type(m) is torch.nn.Linear and m.bias is None) for m in linears)
    )


class LeanGemma3:
    """`lean(input_ids, past)` -> last hidden states of one sequence after the prefix cached in `past`."""

    def __init__(self, model: torch.nn.Module) -> None:
        if not supports_lean_forward(model):
            raise ValueError("LeanGemma3 needs a Gemma3TextModel prepared by load_embedder(optimize_for_cpu=True)")
        self.model = model
        self.sliding_window = model.config.sliding_window or 0
        self.eps = model.norm.eps
        layer_types = model.config.layer_types
        self.layers = [self._gather(layer, kind) for layer, kind in zip(model.layers, layer_types, strict=True)]

    @staticmethod
    def _gather(layer: torch.nn.Module, layer_type: str) -> _Layer:
        attention, mlp = layer.self_attn, layer.mlp
        return _Layer(
            *(_linear_op(m) for m in (attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj)),
            *(_linear_op(m) for m in (mlp.gate_proj, mlp.up_proj, mlp.down_proj)),
            layer.input_layernorm.scale,
            layer.post_attention_layernorm.scale,
            layer.pre_feedforward_layernorm.scale,
            layer.post_feedforward_layernorm.scale,
            attention.q_norm.scale,
            attention.k_norm.scale,
            attention.head_dim,
            attention.scaling,
            layer_type,
        )

    def fits(self, prefix_len: int, new_tokens: int) -> bool:
        """True when every token also sees the whole sequence through the sliding window."""
        return not self.sliding_window or prefix_len + new_tokens <= self.sliding_window

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, past, last_only: bool = False) -> torch.Tensor:
        """Hidden states (1, n, hidden) of `input_ids` (1, n) after the prefix held in the transformers cache
        `past` (batch of one; read, never extended). `last_only`: just the last token's (1, 1, hidden), for
        last-token pooling: the top layer then runs its query, attention output and MLP for that row alone."""
        model = self.model
        n = input_ids.shape[1]
        k = past.layers[0].keys.shape[2]
        hidden = model.embed_tokens(input_ids)
        positions = torch.arange(k, k + n, device=input_ids.device).unsqueeze(0)
        rope = {}
        for layer_type in {layer.layer_type for layer in self.layers}:
            cos, sin = model.rotary_emb(hidden, positions, layer_type)
            rope[layer_type] = (cos.unsqueeze(1), sin.unsqueeze(1))
        # New token i (at position k + i) sees the prefix and the new tokens up to itself.
        mask = torch.ones((n, k + n), dtype=torch.bool, device=input_ids.device).tril(diagonal=k) if n > 1 else None
        top = len(self.layers) - 1
        for i, (layer, cache) in enumerate(zip(self.layers, past.layers, strict=True)):
            rows = slice(n - 1, n) if last_only and i == top else slice(0, n)
            hidden = self._layer(layer, hidden, *rope[layer.layer_type], cache.keys, cache.values, mask, rows)
        return _rms_norm(hidden, model.norm.scale, self.eps)

    def _layer(self, layer: _Layer, hidden, cos, sin, past_keys, past_values, mask, rows: slice) -> torch.Tensor:
        """Gemma3DecoderLayer.forward: attention then MLP, each between two RMSNorms, each residual. Keys and
        values come from every token; queries and everything after attention only from `rows`."""
        n, head_dim, eps = hidden.shape[1], layer.head_dim, self.eps
        x = _rms_norm(hidden, layer.input_norm, eps)
        keys = _rms_norm(layer.k(x).view(1, n, -1, head_dim).transpose(1, 2), layer.k_norm, eps)
        values = layer.v(x).view(1, n, -1, head_dim).transpose(1, 2)
        keys = torch.cat((past_keys, _with_rope(keys, cos, sin)), dim=2)
        values = torch.cat((past_values, values), dim=2)
        if rows.stop - rows.start < n:  # the last row sees every key: no mask
            x, hidden, cos, sin, mask = x[:, rows], hidden[:, rows], cos[:, :, rows], sin[:, :, rows], None
        m = x.shape[1]
        queries = _rms_norm(layer.q(x).view(1, m, -1, head_dim).transpose(1, 2), layer.q_norm, eps)
        attended = F.scaled_dot_product_attention(
            _with_rope(queries, cos, sin), keys, values, attn_mask=mask, scale=layer.scaling, enable_gqa=True
        )
        attended = layer.o(attended.transpose(1, 2).reshape(1, m, -1))
        hidden = hidden + _rms_norm(attended, layer.post_attention_norm, eps)
        x = _rms_norm(hidden, layer.pre_mlp_norm, eps)
        x = layer.down(F.gelu(layer.gate(x), approximate="tanh") * layer.up(x))
        return hidden + _rms_norm(x, layer.post_mlp_norm, eps)


def _rms_norm(x: torch.Tensor, scale: torch.Tensor, eps: float) -> torch.Tensor:
    return F.rms_norm(x, scale.shape, scale, eps)


def _with_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding as transformers applies it (rotate_half convention)."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin
