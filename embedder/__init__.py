"""babelsearch's embedder: a decoder-only LLM backbone + LoRA adapter as an instruction-aware text embedder."""

from embedder.loading import load_embedder
from embedder.model import Embedder, EmbedderConfig

__all__ = ["Embedder", "EmbedderConfig", "load_embedder"]
