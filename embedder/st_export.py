"""Save an Embedder as a sentence-transformers folder that reproduces its vectors.

`SentenceTransformer(folder)` then encodes like babelsearch: a Transformer module over the merged model
(LoRA folded in) whose tokenizer appends EOS (our last-token pooling reads it), Pooling (last token, or
mean without the instruction), Normalize; and one prompt per task (`prompt_name="web_search"`, ...) plus
"query" and "document".
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tokenizers.processors import TemplateProcessing

from embedder.instructions import DEFAULT_TASK, TASKS
from embedder.loading import has_cpu_serving_layers
from embedder.model import Embedder


def _append_eos(tokenizer) -> None:
    """Make the fast tokenizer emit [BOS] text EOS, as Embedder.encode does (truncation keeps room for both)."""
    bos, eos = tokenizer.bos_token, tokenizer.eos_token
    specials = [(eos, tokenizer.eos_token_id)]
    single = f"$A:0 {eos}:0"
    if bos is not None and tokenizer("x")["input_ids"][0] == tokenizer.bos_token_id:
        specials.insert(0, (bos, tokenizer.bos_token_id))
        single = f"{bos}:0 {single}"
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(single=single, special_tokens=specials)


def _st_modules():
    """Transformer, Pooling, Normalize from sentence-transformers 6 (new path) or 5 (`models`)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def export_sentence_transformers(embedder: Embedder, folder: Path) -> Path:
    """Write `folder` so that `SentenceTransformer(folder)` gives this embedder's vectors."""
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

    if has_cpu_serving_layers(embedder.model):
        raise ValueError(
            "this embedder has inference-only CPU layers that do not save: load it with optimize_for_cpu=False"
        )
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as scratch:
        model = embedder.model
        if isinstance(model, PeftModel):  # fold the adapter in: a plain HF model loads anywhere
            model = model.merge_and_unload()
        model.save_pretrained(scratch)
        tokenizer = embedder.tokenizer
        saved_processor, saved_side = tokenizer.backend_tokenizer.post_processor, tokenizer.padding_side
        try:
            _append_eos(tokenizer)
            tokenizer.padding_side = "right"
            tokenizer.save_pretrained(scratch)
        finally:
            tokenizer.backend_tokenizer.post_processor, tokenizer.padding_side = saved_processor, saved_side
        transformer_cls, pooling_cls, normalize_cls = _st_modules()
        transformer = transformer_cls(scratch, max_seq_length=embedder.max_tokens)
        mode = "lasttoken" if embedder.config.pooling == "last_token" else "mean"
        pooling = pooling_cls(embedder.dim, pooling_mode=mode, include_prompt=False)
        prompts = {name: embedder.query_prefix(name) for name in TASKS}
        prompts |= {"query": embedder.query_prefix(DEFAULT_TASK), "document": embedder.document_prefix()}
        st_model = SentenceTransformer(modules=[transformer, pooling, normalize_cls()], prompts=prompts, device="cpu")
        st_model.save(str(folder))
    _write_json(folder / "babelsearch_contract.json", embedder.contract)
    return folder


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
