"""fp16 weights for serving on CPUs without fast bf16: half the bytes per matmul, fp32 arithmetic.

A single query is a matmul of ~10 token rows against every weight matrix (126 in Gemma-3-270M), a shape
where MKL's fp32 GEMM runs far below the machine's rate. fbgemm's fp16 GEMM (torch's dynamic "fp16
quantisation") keeps the weights in fp16 and widens them to fp32 inside the kernel: measured on a 2-core
AVX2 EPYC (bench/linear_kernels.py), 1.6-2.7x faster than fp32 at 10 rows, on par at 512+ rows, and STS-B
English unchanged (78.95); see docs/BENCHMARKS.md. int8 was measured too and costs quality, so it is not
offered.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F


def fp16_weights_available() -> bool:
    """True when torch has the fbgemm kernels (x86 with AVX2); elsewhere the model stays fp32."""
    return "fbgemm" in torch.backends.quantized.supported_engines


def with_fp16_weights(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with every nn.Linear replaced, in place, by an inference-only fp16-weight Linear.

    Only for a frozen fp32 model on the CPU (LoRA merged): the new layers have no trainable parameters and
    cannot move to a GPU. Raises ValueError when the kernels are missing or the model is not fp32 on CPU.
    """
    from torch.ao.quantization import float16_dynamic_qconfig, quantize_dynamic

    if not fp16_weights_available():
        raise ValueError("fp16 weights need torch's fbgemm kernels (x86 CPU); load with optimize_for_cpu=False")
    weight = next(p for n, p in model.named_parameters() if n.endswith("weight"))
    if weight.device.type != "cpu" or weight.dtype != torch.float32:
        raise ValueError(f"fp16 weights are for fp32 CPU models; this one is {weight.dtype} on {weight.device}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return quantize_dynamic(model, {torch.nn.Linear: float16_dynamic_qconfig}, torch.float16, inplace=True)


class Fp16StoredEmbedding(torch.nn.Module):
    """A token embedding table stored in fp16 and looked up into fp32 (times the model's embedding scale).

    Gemma-3's 262k x 640 table is 670 MB in fp32 and only ~12 rows are read per query, so its precision
    buys nothing: for the default backbone the values are fp16 already (from its GGUF), so this is exact.
    """

    def __init__(self, embedding: torch.nn.Embedding) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(embedding.weight.detach().half(), requires_grad=False)
        self.padding_idx = embedding.padding_idx
        # Gemma3TextScaledWordEmbedding multiplies by sqrt(hidden size); a plain nn.Embedding by nothing.
        self.scale = float(getattr(embedding, "scalar_embed_scale", 1.0))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        vectors = F.embedding(input_ids, self.weight).float()
        return vectors * self.scale if self.scale != 1.0 else vectors


def with_fp16_embeddings(model: torch.nn.Module) -> torch.nn.Module:
    """`model` with its input embedding table stored in fp16 (inference only; see Fp16StoredEmbedding)."""
    embedding = model.get_input_embeddings()
    if type(embedding).__name__ not in ("Embedding", "Gemma3TextScaledWordEmbedding"):
        return model  # an embedding with its own forward: left alone rather than guessed at
    model.set_input_embeddings(Fp16StoredEmbedding(embedding))
    return model


def is_fp16_linear(module: torch.nn.Module) -> bool:
    """True for a layer made by `with_fp16_weights`."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    return isinstance(module, DynamicLinear) and module._packed_params.dtype == torch.float16


def has_fp16_weights(model: torch.nn.Module) -> bool:
    """True when `model` holds layers made by `with_fp16_weights` or `with_fp16_embeddings` (they cannot be
    saved as a HF model)."""
    return any(is_fp16_linear(m) or isinstance(m, Fp16StoredEmbedding) for m in model.modules())
