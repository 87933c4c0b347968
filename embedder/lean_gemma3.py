"""A lean inference forward of Gemma-3's text model for one query after its cached instruction states.

A search query is ~12 tokens after its cached instruction. For so few rows, the time outside the matmuls
matters: transformers' forward builds masks and cache objects and goes through ~300 module calls, each
with its hook checks. This module does the same math as `transformers.models.gemma3.modeling_gemma3`
(sandwich RMSNorms, q/k norms, RoPE, scaled attention over prefix + new tokens, GELU-tanh MLP) as plain
tensor ops on weights gathered once, with one fused q/k/v projection per layer (+35 MB for Gemma-3-270M)
so that the q and k heads are normed and rotated in one call each. Measured ~1.3x faster per query than
transformers' forward with the same vectors (bench/single_query.py, docs/BENCHMARKS.md); tests check it
against transformers' forward. It covers exactly one case: an inference-only fp32 model prepared by
`load_embedder(optimize_for_cpu=...)` (fp16 weight matrices, fused norms), one unpadded sequence, after
cached prefix states, inside the sliding window (so sliding and full attention layers see the same
tokens). Everything else goes through transformers.
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


def _packed(weight: torch.Tensor) -> Linear:
    """fbgemm's fp16 matmul against `weight` (out x in)."""
    return _fp16_matmul(torch.ops.quantized.linear_prepack_fp16(weight, None))


def _fp16_matmul(packed) -> Linear:
    """The op overload itself: calling through the op packet adds a Python dispatch check of ~10 us."""
    return partial(torch.ops.quantized.linear_dynamic_fp16.default, W_prepack=packed)


def _weight(module: torch.nn.Module) -> torch.Tensor:
    """The (fp16-rounded) weight matrix of a layer made by `with_fp16_weights`."""
    return torch.ops.quantized.linear_unpack_fp16(module._packed_params._packed_params)[0]


def _op(module: torch.nn.Module) -> Linear:
    """The bare op of a layer made by `with_fp16_weights`, sharing its packed weights."""
    return _fp16_matmul(module._packed_params._packed_params)


@dataclass
class _Layer:
    """The weights of one decoder layer, ready for direct calls."""

    qkv: Linear  # query heads, then key heads, then value heads
    o: Linear
    gate: Linear
    up: Linear
    down: Linear
    input_norm: torch.Tensor
    post_attention_norm: torch.Tensor
    pre_mlp_norm: torch.Tensor
    post_mlp_norm: torch.Tensor
    qk_norm: torch.Tensor  # (query heads + key heads, 1, head_dim): q_norm's scale, then k_norm's
    query_heads: int
    key_heads: int
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
        and not config.attention_bias  # Gemma-3's MLP has no biases either
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
        and all(is_fp16_linear(m) for m in linears)  # (asking one for its bias would unpack its weights)
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
        attention, mlp, config = layer.self_attn, layer.mlp, layer.self_attn.config
        query_heads, key_heads = config.num_attention_heads, config.num_key_value_heads
        projections = (attention.q_proj, attention.k_proj, attention.v_proj)
        k_scale = attention.k_norm.scale.expand(key_heads, -1)
        return _Layer(
            qkv=_packed(torch.cat([_weight(m) for m in projections])),
            o=_op(attention.o_proj),
            gate=_op(mlp.gate_proj),
            up=_op(mlp.up_proj),
            down=_op(mlp.down_proj),
            input_norm=layer.input_layernorm.scale,
            post_attention_norm=layer.post_attention_layernorm.scale,
            pre_mlp_norm=layer.pre_feedforward_layernorm.scale,
            post_mlp_norm=layer.post_feedforward_layernorm.scale,
            qk_norm=torch.cat([attention.q_norm.scale.expand(query_heads, -1), k_scale]).unsqueeze(1),
            query_heads=query_heads,
            key_heads=key_heads,
            head_dim=attention.head_dim,
            scaling=attention.scaling,
            layer_type=layer_type,
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
        heads = layer.qkv(x).view(1, n, -1, head_dim).transpose(1, 2)
        normed = layer.query_heads + layer.key_heads  # q and k heads: RMSNorm (own scales) and RoPE together
        rotated = _with_rope(F.rms_norm(heads[:, :normed], (head_dim,), None, eps) * layer.qk_norm, cos, sin)
        queries = rotated[:, : layer.query_heads]
        keys = torch.cat((past_keys, rotated[:, layer.query_heads :]), dim=2)
        values = torch.cat((past_values, heads[:, normed:]), dim=2)
        if rows.stop - rows.start < n:  # the last row sees every key: no mask
            queries, hidden, mask = queries[:, :, rows], hidden[:, rows], None
        m = hidden.shape[1]
        attended = F.scaled_dot_product_attention(
            queries, keys, values, attn_mask=mask, scale=layer.scaling, enable_gqa=True
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
