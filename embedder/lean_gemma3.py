"""A lean inference forward of Gemma-3's text model: packed sequences, plain tensor ops, no padding.

It does the same math as `transformers.models.gemma3.modeling_gemma3` (sandwich RMSNorms, q/k norms, RoPE,
scaled attention, GELU-tanh MLP) on weights gathered once, with one fused q/k/v projection per layer
(+35 MB for Gemma-3-270M) so that q and k heads are normed and rotated in one call each. What it does
differently, measured against transformers' forward on the same served model (docs/BENCHMARKS.md):
- One query (~12 tokens after its cached instruction): no masks, cache objects or ~300 module calls with
  hook checks around the matmuls: ~1.3x faster (bench/single_query.py).
- Batches: the sequences are packed without padding (a batch of mixed lengths does no work on pad tokens),
  attention runs per sequence (the plain causal kernel when there is no cached prefix), and the row-wise
  work (norms, projections, MLP) runs in blocks of ROW_BLOCK rows with GELU and the gate product in place.
  A whole batch's intermediate activations (e.g. 5,344 x 2,048 floats, 44 MB) are above glibc's mmap
  threshold, so each one is fresh memory that the kernel must fault in and zero; a block's fit in the
  heap and in cache. 32 passages of 167 tokens: 1.18x; mixed lengths: 1.77x (same vectors within 6e-7).
- With last-token pooling the top layer runs its attention output and MLP for each last row alone.
Tests check it against transformers' forward. It covers an inference-only fp32 model prepared by
`load_embedder(optimize_for_cpu=...)` (fp16 weight matrices, fused norms), with or without cached prefix
states, inside the sliding window (so sliding and full attention layers see the same tokens). Everything
else (training, GPU, export, other backbones, longer texts) goes through transformers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F

from embedder.fp16_weights import is_fp16_linear
from embedder.fused_norms import FusedRMSNorm

Linear = Callable[[torch.Tensor], torch.Tensor]
ROW_BLOCK = 512  # rows per block of row-wise work (see the module docstring)


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
    qk_norm: torch.Tensor  # (query heads + key heads, head_dim): q_norm's scale, then k_norm's
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
            qk_norm=torch.cat([attention.q_norm.scale.expand(query_heads, -1), k_scale]),
            query_heads=query_heads,
            key_heads=key_heads,
            head_dim=attention.head_dim,
            scaling=attention.scaling,
            layer_type=layer_type,
        )

    def fits(self, prefix_len: int, lengths: list[int]) -> bool:
        """True when every token of every sequence sees its whole sequence through the sliding window."""
        return not self.sliding_window or prefix_len + max(lengths) <= self.sliding_window

    @torch.inference_mode()
    def __call__(self, sequences: list[torch.Tensor], past=None, last_only: bool = False) -> torch.Tensor:
        """Final hidden states of `sequences` (1-D id tensors), packed as (sum of lengths, hidden): every
        token's row, sequence after sequence. With `last_only`, (sequences, hidden): each one's last token,
        and the top layer runs its attention output and MLP for those rows alone. `past`: a transformers
        cache (batch of one) of prefix states that every sequence follows; read, never extended."""
        model, lengths = self.model, [len(s) for s in sequences]
        k = past.layers[0].keys.shape[2] if past is not None else 0
        hidden = model.embed_tokens(torch.cat(sequences))
        positions = torch.cat([torch.arange(k, k + n) for n in lengths]).unsqueeze(0)
        rope = {}
        for layer_type in {layer.layer_type for layer in self.layers}:
            cos, sin = model.rotary_emb(hidden.unsqueeze(0), positions, layer_type)
            rope[layer_type] = (cos[0].unsqueeze(1), sin[0].unsqueeze(1))  # (rows, 1, head_dim): every head
        first = self.layers[0]  # buffers written by every layer: allocated once per forward, not per layer
        heads = hidden.new_empty(len(hidden), first.query_heads + 2 * first.key_heads, first.head_dim) if len(
            hidden) > ROW_BLOCK else None  # fmt: skip
        attended = hidden.new_empty(len(hidden), first.query_heads * first.head_dim)
        attention = _Attention(lengths, k, last_only)
        top = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            projected = self._project(layer, hidden, heads, *rope[layer.layer_type])
            cache = past.layers[i] if past is not None else None
            if last_only and i == top:
                hidden, attended = hidden[attention.last_rows], attended[: len(lengths)]
                attention.last_row_only(layer, projected, attended, cache)
            else:
                attention(layer, projected, attended, cache)
            self._output_and_mlp(layer, hidden, attended)
        return _rms_norm(hidden, model.norm.scale, self.eps)

    def _project(self, layer: _Layer, hidden, heads, cos, sin) -> torch.Tensor:
        """(rows, q + k + v heads, head_dim): the q/k/v projections of the input-normed `hidden`, q and k
        heads RMS-normed (their own scales) and rotated. Written block by block into the buffer `heads`;
        one block (a query, a short batch) is returned as computed, without the copy."""
        if len(hidden) <= ROW_BLOCK:
            return self._project_block(layer, hidden, cos, sin)
        for rows in _blocks(len(hidden)):
            heads[rows] = self._project_block(layer, hidden[rows], cos[rows], sin[rows])
        return heads

    def _project_block(self, layer: _Layer, hidden, cos, sin) -> torch.Tensor:
        normed, eps = layer.query_heads + layer.key_heads, self.eps
        heads = layer.qkv(_rms_norm(hidden, layer.input_norm, eps)).view(len(hidden), -1, layer.head_dim)
        qk = F.rms_norm(heads[:, :normed], (layer.head_dim,), None, eps) * layer.qk_norm
        heads[:, :normed] = _with_rope(qk, cos, sin)
        return heads

    def _output_and_mlp(self, layer: _Layer, hidden, attended) -> None:
        """In place on `hidden`: add the normed attention output, then the normed MLP of the result."""
        if len(hidden) <= ROW_BLOCK:  # (slicing costs ~3 us an op: it adds up for a ~40 ms query)
            self._output_and_mlp_block(layer, hidden, attended)
            return
        for rows in _blocks(len(hidden)):
            self._output_and_mlp_block(layer, hidden[rows], attended[rows])

    def _output_and_mlp_block(self, layer: _Layer, hidden, attended) -> None:
        eps = self.eps
        hidden += _rms_norm(layer.o(attended), layer.post_attention_norm, eps)
        x = _rms_norm(hidden, layer.pre_mlp_norm, eps)
        gated = layer.gate(x)
        torch.ops.aten.gelu_.default(gated, approximate="tanh")  # the overload: ~5 us less dispatch
        hidden += _rms_norm(layer.down(gated.mul_(layer.up(x))), layer.post_mlp_norm, eps)


class _Attention:
    """Scaled dot-product attention of each packed sequence over its prefix (if cached) and itself."""

    def __init__(self, lengths: list[int], prefix_len: int, last_only: bool) -> None:
        self.prefix_len = prefix_len
        starts = itertools.accumulate([0, *lengths])  # one more start than lengths: the end
        self.spans = list(zip(starts, lengths, strict=False))
        self.last_rows = torch.tensor([start + n - 1 for start, n in self.spans]) if last_only else None
        self._masks: dict[int, torch.Tensor] = {}

    def __call__(self, layer: _Layer, heads, attended, cache) -> None:
        """Into `attended` (rows, query heads x head_dim): every token attends causally."""
        for start, n in self.spans:
            queries, keys, values = self._split(layer, _rows(heads, start, n), cache)
            out = F.scaled_dot_product_attention(
                queries, keys, values, attn_mask=self._mask(n), is_causal=not self.prefix_len and n > 1,
                scale=layer.scaling, enable_gqa=True,
            )  # fmt: skip
            _rows(attended, start, n).view(n, layer.query_heads, -1).copy_(out[0].transpose(0, 1))

    def last_row_only(self, layer: _Layer, heads, attended, cache) -> None:
        """Into row i of `attended`: sequence i's last token attends to all of the sequence (no mask)."""
        for i, (start, n) in enumerate(self.spans):
            queries, keys, values = self._split(layer, _rows(heads, start, n), cache)
            out = F.scaled_dot_product_attention(queries[:, :, -1:], keys, values, scale=layer.scaling, enable_gqa=True)
            attended[i].copy_(out.reshape(-1))

    @staticmethod
    def _split(layer: _Layer, block, cache):
        """(1, heads, tokens, head_dim) queries, keys and values of one sequence, cached prefix first."""
        q_end, k_end = layer.query_heads, layer.query_heads + layer.key_heads
        queries, keys, values = (block[:, a:b].transpose(0, 1).unsqueeze(0) for a, b in
                                 ((0, q_end), (q_end, k_end), (k_end, block.shape[1])))  # fmt: skip
        if cache is not None:
            keys, values = torch.cat((cache.keys, keys), dim=2), torch.cat((cache.values, values), dim=2)
        return queries, keys, values

    def _mask(self, n: int) -> torch.Tensor | None:
        """After a cached prefix of k tokens, new token i sees the prefix and new tokens up to itself."""
        k = self.prefix_len
        if not k or n == 1:
            return None
        if n not in self._masks:
            self._masks[n] = torch.ones((n, k + n), dtype=torch.bool).tril(diagonal=k)
        return self._masks[n]


def _rows(tensor: torch.Tensor, start: int, n: int) -> torch.Tensor:
    """tensor[start : start + n], or the tensor itself when that is all of it (a slice costs ~3 us)."""
    return tensor if start == 0 and n == len(tensor) else tensor[start : start + n]


def _blocks(rows: int) -> list[slice]:
    """Row ranges of at most ROW_BLOCK rows covering `rows`."""
    return [slice(start, min(start + ROW_BLOCK, rows)) for start in range(0, rows, ROW_BLOCK)]


def _rms_norm(x: torch.Tensor, scale: torch.Tensor, eps: float) -> torch.Tensor:
    return F.rms_norm(x, scale.shape, scale, eps)


def _with_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding as transformers applies it (rotate_half convention)."""
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin
