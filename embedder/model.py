"""The Embedder: a decoder backbone (+ LoRA adapter) that encodes queries and documents."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from embedder.batching import Batch, Tokenized, pad
from embedder.instructions import DEFAULT_DOCUMENT_INSTRUCTION, QUERY_TEMPLATE, query_prefix
from embedder.lean_gemma3 import LeanGemma3, supports_lean_forward
from embedder.pooling import POOLING_MODES, PoolingMode, pool
from embedder.prefix_cache import CachedPrefix, PrefixCache

CONFIG_FILE = "babelsearch_embedder.json"
# Attending to cached prefix states needs an explicit attention mask, which makes attention slower than the
# plain causal kernel: measured with bench/encode_speed.py, skipping a 7-token prefix of 167-token passages
# lost 8%, skipping it on 17-token texts gained 49%. So reuse only where the prefix is a large share.
REUSE_MIN_PREFIX_SHARE = 0.2
ADAPTER_DIR = "adapter"


@dataclass
class EmbedderConfig:
    """Everything besides weights that decides what a vector means (saved in an embedder folder)."""

    backbone: str
    pooling: PoolingMode = "last_token"
    max_tokens: int = 512
    query_template: str = QUERY_TEMPLATE
    document_instruction: str = DEFAULT_DOCUMENT_INSTRUCTION
    padding_side: str = "right"
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pooling not in POOLING_MODES:
            raise ValueError(f"unknown pooling {self.pooling!r}: use one of {', '.join(POOLING_MODES)}")
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}")

    def save(self, folder: Path) -> None:
        """Write the config as JSON into `folder`."""
        (folder / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> EmbedderConfig:
        """Read the config JSON of an embedder folder."""
        return cls(**json.loads((folder / CONFIG_FILE).read_text()))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Embedder:
    """Encodes texts into L2-normalised float32 vectors; queries and documents get their own instruction."""

    def __init__(self, model: torch.nn.Module, tokenizer, config: EmbedderConfig, adapter_sha256: str | None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self.adapter_sha256 = adapter_sha256
        self._tokenized = Tokenized(tokenizer, config.max_tokens)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        # Forward each instruction once and reuse its key/value states (same vectors, less work); the
        # benchmarks switch it off to measure the difference.
        self.reuse_prefix_states = True
        self._prefix_cache = PrefixCache()
        # A CPU-served Gemma-3 encodes through embedder/lean_gemma3.py (packed sequences, no per-call
        # overhead; same vectors); the benchmarks switch it off to measure the difference.
        self.use_lean_forward = True
        self._lean: tuple[torch.nn.Module, LeanGemma3 | None] | None = None
        self.lean_forward()  # built now (fusing q/k/v takes ~0.4 s for Gemma-3-270M), not at the first query

    @property
    def dim(self) -> int:
        """Length of the output vectors."""
        return int(self.model.config.hidden_size)

    @property
    def max_tokens(self) -> int:
        """Longest input (in the backbone's tokens, instruction and EOS included) before truncation."""
        return self.config.max_tokens

    @property
    def name(self) -> str:
        """Short identity: backbone plus the adapter hash prefix (or `untuned`)."""
        return f"{self.config.backbone}@{self.adapter_sha256[:12] if self.adapter_sha256 else 'untuned'}"

    @property
    def contract(self) -> dict:
        """What an index must store and check: vectors are comparable only under the same contract."""
        return {
            "backbone": self.config.backbone,
            "adapter_sha256": self.adapter_sha256,
            "pooling": self.config.pooling,
            "dim": self.dim,
            "max_tokens": self.config.max_tokens,
            "query_template": self.config.query_template,
            "document_instruction": self.config.document_instruction,
        }

    def query_prefix(self, task: str | None) -> str:
        """The query-side text before a query: `Instruct: {task}\\nQuery: `."""
        if self.config.query_template == QUERY_TEMPLATE:
            return query_prefix(task)
        return self.config.query_template.replace("{text}", "").format(task=task or "")

    def document_prefix(self, instruction: str | None = None) -> str:
        """The document-side text before a document (the configured instruction unless overridden)."""
        return self.config.document_instruction if instruction is None else instruction

    def encode_queries(
        self, texts: list[str], task: str | None = None, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        """Embed queries with the query-side instruction of `task` (short name or sentence)."""
        return self.encode(texts, self.query_prefix(task), batch_size, show_progress)

    def encode_documents(
        self,
        texts: list[str],
        instruction: str | None = None,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Embed documents with the document-side instruction (pass "" for none)."""
        return self.encode(texts, self.document_prefix(instruction), batch_size, show_progress)

    def encode(self, texts: list[str], prefix: str, batch_size: int = 32, show_progress: bool = False) -> np.ndarray:
        """Embed `prefix + text` for each text, longest first in batches, returned in input order."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string: wrap it as [text]")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids, prefix_len = self._tokenized.encode(list(texts), prefix)
        shared = self._tokenized.shared_prefix_ids(prefix) if self.reuse_prefix_states else []
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), self.dim), dtype=np.float32)
        starts = range(0, len(order), batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, disable=not show_progress, desc="encode", unit="batch"):
                rows = order[start : start + batch_size]
                vectors = self._embed_sequences([ids[i] for i in rows], prefix_len, shared)
                out[rows] = vectors.float().cpu().numpy()
        return out

    def _can_reuse(self, shared: list[int], sequences: list[list[int]]) -> bool:
        """True when reusing the prefix states pays and is exact: the prefix is a large enough share of the
        longest sequence, every sequence starts with it and has tokens after it, and we are not training."""
        k = len(shared)
        if not shared or self.model.training or k < REUSE_MIN_PREFIX_SHARE * max(len(s) for s in sequences):
            return False
        return all(len(s) > k and s[:k] == shared for s in sequences)

    def lean_forward(self) -> LeanGemma3 | None:
        """The lean forward of the current model, or None where it does not apply."""
        if not self.use_lean_forward:
            return None
        if self._lean is None or self._lean[0] is not self.model:
            self._lean = (self.model, LeanGemma3(self.model) if supports_lean_forward(self.model) else None)
        return self._lean[1]

    def _embed_sequences(self, sequences: list[list[int]], prefix_len: int, shared: list[int]) -> torch.Tensor:
        """Normalised vectors of one batch of token id lists, after the cached `shared` prefix where it pays."""
        cached = self._prefix_cache.get(self.model, shared) if self._can_reuse(shared, sequences) else None
        k = len(cached.ids) if cached is not None else 0
        lean = self.lean_forward()
        if lean is not None and lean.fits(k, [len(s) - k for s in sequences]):
            return self._embed_lean(lean, sequences, prefix_len, cached)
        if cached is not None:
            return self._embed_after_prefix(sequences, prefix_len, cached)
        return self.embed_batch(pad(sequences, [prefix_len] * len(sequences), self.pad_id, self.config.padding_side))

    def _embed_lean(
        self, lean: LeanGemma3, sequences: list[list[int]], prefix_len: int, cached: CachedPrefix | None
    ) -> torch.Tensor:
        """The lean forward on the tokens after the cached prefix (if any), unpadded."""
        k = len(cached.ids) if cached is not None else 0
        past = cached.past if cached is not None else None
        rest = [s[k:] for s in sequences]
        packed = [torch.tensor(s) for s in rest]
        if self.config.pooling == "last_token":  # the pooled states are all the lean forward computes
            return F.normalize(lean(packed, past, last_only=True).float(), p=2, dim=-1)
        hidden = torch.nn.utils.rnn.pad_sequence(list(lean(packed, past).split([len(s) for s in rest])), True)
        masks = self._after_prefix(sequences, prefix_len, k, "right")  # the padding pad_sequence added
        return F.normalize(pool(self.config.pooling, hidden, masks.attention_mask, masks.pool_mask).float(), dim=-1)

    def _after_prefix(self, sequences: list[list[int]], prefix_len: int, k: int, padding_side: str) -> Batch:
        """The tokens after the first `k` of each sequence, padded; pooling skips what is left of the
        `prefix_len`-token instruction."""
        return pad([s[k:] for s in sequences], [max(prefix_len - k, 0)] * len(sequences), self.pad_id, padding_side)

    def _embed_after_prefix(self, sequences: list[list[int]], prefix_len: int, cached: CachedPrefix) -> torch.Tensor:
        """Forward only the tokens after the cached prefix, attending to its stored keys and values."""
        k = len(cached.ids)
        device = next(self.model.parameters()).device
        rest = self._after_prefix(sequences, prefix_len, k, self.config.padding_side).to(device)
        prefix_mask = torch.ones((len(sequences), k), dtype=rest.attention_mask.dtype, device=device)
        hidden = self.model(
            input_ids=rest.input_ids,
            attention_mask=torch.cat([prefix_mask, rest.attention_mask], dim=1),
            position_ids=rest.position_ids + k,
            past_key_values=cached.expanded(len(sequences)),
            use_cache=True,
        ).last_hidden_state
        pooled = pool(self.config.pooling, hidden, rest.attention_mask, rest.pool_mask)
        return F.normalize(pooled.float(), p=2, dim=-1)

    def embed_batch(self, batch: Batch) -> torch.Tensor:
        """Forward a padded batch and return normalised vectors (differentiable: training uses it)."""
        device = next(self.model.parameters()).device
        batch = batch.to(device)
        hidden = self.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids
        ).last_hidden_state
        pooled = pool(self.config.pooling, hidden, batch.attention_mask, batch.pool_mask)
        return F.normalize(pooled.float(), p=2, dim=-1)

    def save(self, folder: str | Path) -> Path:
        """Save config and (if any) the LoRA adapter; the backbone is referenced by name, not copied."""
        from peft import PeftModel

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder)
        if isinstance(self.model, PeftModel):
            self.model.save_pretrained(folder / ADAPTER_DIR)
        return folder
