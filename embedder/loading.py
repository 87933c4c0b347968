"""`load_embedder`: resolve a name or folder to backbone + optional LoRA adapter + config."""

from __future__ import annotations

import contextlib
import ctypes
import logging
from importlib.resources import files
from pathlib import Path

import torch

from embedder.backbones import BACKBONES, DEFAULT_BACKBONE, backbone_path
from embedder.fp16_weights import fp16_weights_available, has_fp16_weights, with_fp16_embeddings, with_fp16_weights
from embedder.fused_norms import FusedRMSNorm, fuse_rms_norms
from embedder.model import ADAPTER_DIR, CONFIG_FILE, Embedder, EmbedderConfig, file_sha256

log = logging.getLogger(__name__)

SHIPPED_ADAPTER = Path(str(files("embedder").joinpath("adapters", "default")))


def cpu_has_fast_bf16() -> bool:
    """True when the CPU multiplies bf16 in hardware (AMX or AVX512-BF16).

    Measured: with AMX a bf16 matmul runs ~9x faster than fp32; without it (e.g. an AMD EPYC with AVX2 only)
    torch falls back to a reference kernel ~100x *slower* than fp32 (1.2 vs 135 GFLOP/s). So "auto" must look.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_device(name: str | None = "auto") -> torch.device:
    """The torch device for `name`: "auto"/None is the first CUDA GPU when torch sees one, else the CPU."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU (torch {torch.__version__})")
    return device


def _dtype(name: str, device: torch.device | None = None) -> torch.dtype:
    if name == "auto":
        on_gpu = device.type == "cuda" if device is not None else torch.cuda.is_available()
        return torch.bfloat16 if on_gpu or cpu_has_fast_bf16() else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float32": torch.float32}[name]
    except KeyError:
        raise ValueError(f"dtype must be 'auto', 'bfloat16' or 'float32', got {name!r}") from None


def load_backbone(backbone: str, dtype: str = "auto", device: str | torch.device | None = "auto"):
    """Load a backbone (registry name or HF folder) as (base model without LM head, tokenizer) on `device`."""
    from transformers import AutoModel, AutoTokenizer

    path = backbone_path(backbone) if backbone in BACKBONES else Path(backbone)
    if not (path / "config.json").exists():
        raise FileNotFoundError(
            f"backbone {backbone!r} is neither a registered name ({', '.join(BACKBONES)}) nor a folder with config.json"
        )
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, dtype=_dtype(dtype, device), attn_implementation="sdpa")
    return model.to(device), tokenizer


def attach_adapter(model, adapter_dir: Path, trainable: bool = False):
    """Wrap `model` with the peft LoRA adapter saved in `adapter_dir`."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable)


def release_freed_memory() -> None:
    """Hand heap pages freed by the CPU serving swap (the fp32 matrices, ~400 MB for Gemma-3-270M) back to
    the OS. glibc keeps freed memory in its arenas, and nothing in torch or the standard library asks it
    to return them, hence ctypes; a no-op where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def serve_on_cpu(model: torch.nn.Module) -> torch.nn.Module:
    """`model` (fp32, on the CPU, no trainable LoRA layers) with the inference-only CPU serving layers swapped
    in, in place: one-call RMSNorms, fp16 weight matrices and an fp16-stored embedding table."""
    fuse_rms_norms(model)
    model = with_fp16_embeddings(with_fp16_weights(model))
    release_freed_memory()
    return model


def has_cpu_serving_layers(model: torch.nn.Module) -> bool:
    """True when `model` holds the inference-only layers of `optimize_for_cpu` (they do not save or train)."""
    return has_fp16_weights(model) or any(isinstance(m, FusedRMSNorm) for m in model.modules())


def load_embedder(
    name_or_path: str | Path = "default",
    dtype: str = "auto",
    merge_adapter: bool = True,
    max_tokens: int | None = None,
    device: str | None = "auto",
    optimize_for_cpu: bool | None = None,
) -> Embedder:
    """Load an embedder.

    `name_or_path`: "default" (gemma-3-270m + the shipped adapter), a backbone name ("gemma-3-270m",
    "smollm2-135m", "tiny", optionally as "backbone:NAME") for the untuned backbone, or the folder of a
    saved embedder (babelsearch_embedder.json + adapter/). `merge_adapter` folds LoRA into the weights
    for faster serving. `device`: "auto" (CUDA when torch sees a GPU, else CPU), "cpu", "cuda", "cuda:N";
    inputs follow the model to its device and vectors always come back as CPU numpy arrays.
    `optimize_for_cpu`: swap in inference-only layers for an fp32 CPU model: fp16 weight matrices and
    embedding table (embedder.fp16_weights) and one-call RMSNorms (embedder.fused_norms); same quality,
    ~2x faster single queries, ~25% less resident memory, but the model can no longer be trained, saved as a
    transformers model or moved to a GPU.
    None turns it on wherever it applies (CPU, fp32, adapter merged or none, fbgemm present).
    """
    name = str(name_or_path)
    folder: Path | None = None
    if name == "default":
        if (SHIPPED_ADAPTER / CONFIG_FILE).exists():
            folder = SHIPPED_ADAPTER
        else:
            log.warning("no shipped adapter at %s: using the untuned %s backbone", SHIPPED_ADAPTER, DEFAULT_BACKBONE)
            name = DEFAULT_BACKBONE
    elif name.startswith("backbone:"):
        name = name.removeprefix("backbone:")
    elif (Path(name) / CONFIG_FILE).exists():
        folder = Path(name)
    elif name not in BACKBONES and not (Path(name) / "config.json").exists():
        raise FileNotFoundError(
            f"cannot load embedder {name!r}: pass 'default', a backbone name ({', '.join(BACKBONES)}), "
            f"or a folder containing {CONFIG_FILE}"
        )

    config = EmbedderConfig.load(folder) if folder else EmbedderConfig(backbone=name)
    if max_tokens is not None:
        config.max_tokens = max_tokens
    model, tokenizer = load_backbone(config.backbone, dtype, device)
    adapter_sha = None
    if folder and (folder / ADAPTER_DIR).exists():
        adapter_sha = file_sha256(folder / ADAPTER_DIR / "adapter_model.safetensors")
        model = attach_adapter(model, folder / ADAPTER_DIR)
        if merge_adapter:
            model = model.merge_and_unload()
    if optimize_for_cpu is None:
        weight = next(model.parameters())
        serving = adapter_sha is None or merge_adapter  # no trainable LoRA layers left
        on_cpu_fp32 = weight.device.type == "cpu" and weight.dtype == torch.float32
        optimize_for_cpu = serving and on_cpu_fp32 and fp16_weights_available()
    if optimize_for_cpu:
        if adapter_sha is not None and not merge_adapter:
            raise ValueError("optimize_for_cpu=True needs merge_adapter=True (LoRA layers must stay trainable)")
        model = serve_on_cpu(model)
    return Embedder(model, tokenizer, config, adapter_sha)
