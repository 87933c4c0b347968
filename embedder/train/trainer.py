"""The contrastive training loop: backbone + LoRA, InfoNCE, checkpoints, resume, JSONL log, dev evaluation.

Why a hand-written loop rather than SentenceTransformerTrainer: every example carries its own instruction on the
query side (and, for symmetric tasks, on the document side), and the vectors must come from exactly the code that
serves them (`Embedder.embed_batch`: EOS appended after truncation, position ids that ignore padding, our pooling).
Wrapping that in sentence-transformers' module stack would duplicate it; the loss itself is the same maths as its
MultipleNegativesRankingLoss (see loss.py). At 24-32 examples per step no GradCache is needed on this CPU.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from embedder.batching import pad
from embedder.loading import load_backbone, resolve_device
from embedder.model import Embedder, EmbedderConfig
from embedder.train.config import TrainConfig
from embedder.train.data import Example, MixtureSampler, load_source
from embedder.train.loss import info_nce

log = logging.getLogger(__name__)

LATEST = "latest"  # file naming the newest complete checkpoint folder


def build_trainable(cfg: TrainConfig) -> Embedder:
    """Backbone with a fresh LoRA adapter, wrapped as an Embedder (its encode path is the training path)."""
    from peft import LoraConfig, TaskType, get_peft_model

    model, tokenizer = load_backbone(cfg.backbone, cfg.dtype, resolve_device(cfg.device))
    lora = LoraConfig(
        task_type=TaskType.FEATURE_EXTRACTION,
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
    )
    model = get_peft_model(model, lora)
    if cfg.init_adapter:
        load_initial_adapter(model, Path(cfg.init_adapter))
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    config = EmbedderConfig(backbone=cfg.backbone, pooling=cfg.pooling, max_tokens=cfg.max_tokens)
    if cfg.document_instruction is not None:
        config.document_instruction = cfg.document_instruction
    return Embedder(model, tokenizer, config, adapter_sha256=None)


def load_initial_adapter(model, folder: Path) -> None:
    """Start from a saved adapter (an embedder folder with adapter/, or the adapter folder itself).

    Its rank and target modules must match the config's: the weights are loaded into the fresh LoRA layers.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    adapter = folder / "adapter" if (folder / "adapter").is_dir() else folder
    weights_file = adapter / "adapter_model.safetensors"
    if not weights_file.exists():
        raise FileNotFoundError(f"init_adapter {folder}: no adapter_model.safetensors there or in its adapter/")
    saved = json.loads((adapter / "adapter_config.json").read_text())
    lora = model.peft_config["default"]
    if saved["r"] != lora.r or set(saved["target_modules"]) != set(lora.target_modules):
        raise ValueError(
            f"init_adapter {folder} has r={saved['r']} on {sorted(saved['target_modules'])}; the config asks for "
            f"r={lora.r} on {sorted(lora.target_modules)}: make the config's lora section match the adapter"
        )
    result = set_peft_model_state_dict(model, load_file(weights_file))
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing:
        raise ValueError(f"init_adapter {folder} lacks {len(missing)} LoRA weights, e.g. {missing[0]}")
    log.warning("starting from the adapter in %s", adapter)


def embed_side(embedder: Embedder, texts: list[str], prefixes: list[str]) -> torch.Tensor:
    """Embed texts that each have their own prefix, with gradients."""
    ids, prefix_lens = [], []
    for text, prefix in zip(texts, prefixes, strict=True):
        row_ids, prefix_len = embedder._tokenized.encode([text], prefix)
        ids.append(row_ids[0])
        prefix_lens.append(prefix_len)
    return embedder.embed_batch(pad(ids, prefix_lens, embedder.pad_id, embedder.config.padding_side))


def batch_loss(embedder: Embedder, batch: list[Example], cfg: TrainConfig) -> torch.Tensor:
    """InfoNCE of one batch: queries vs all positives and all hard negatives."""
    query_prefixes = [embedder.query_prefix(ex.task) for ex in batch]
    doc_prefixes = [embedder.query_prefix(ex.task) if ex.symmetric else embedder.document_prefix() for ex in batch]
    queries = embed_side(embedder, [ex.query for ex in batch], query_prefixes)
    positives = embed_side(embedder, [ex.positive for ex in batch], doc_prefixes)
    with_negative = [i for i, ex in enumerate(batch) if ex.negative]
    negatives = None
    if with_negative:
        negatives = embed_side(
            embedder, [batch[i].negative for i in with_negative], [doc_prefixes[i] for i in with_negative]
        )
    return info_nce(queries, positives, negatives, cfg.temperature, cfg.symmetric_loss)


def _save_checkpoint(out: Path, embedder: Embedder, optimizer, scheduler, step: int) -> None:
    """Write checkpoint `step` completely, then point `latest` at it (a crash leaves the previous one valid)."""
    folder = out / f"checkpoint-{step:06d}"
    tmp = out / f".tmp-checkpoint-{step:06d}"
    shutil.rmtree(tmp, ignore_errors=True)
    embedder.model.save_pretrained(tmp / "adapter")
    torch.save(
        {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "python_rng": random.getstate(),
        },
        tmp / "trainer_state.pt",
    )
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    pointer = out / f".{LATEST}.tmp"
    pointer.write_text(folder.name)
    os.replace(pointer, out / LATEST)
    for old in out.glob("checkpoint-*"):
        if old != folder:
            shutil.rmtree(old, ignore_errors=True)


def _resume(out: Path, embedder: Embedder, optimizer, scheduler) -> int:
    """Load the newest complete checkpoint, if any; return the number of steps already done."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if not (out / LATEST).exists():
        return 0
    folder = out / (out / LATEST).read_text().strip()
    weights = load_file(folder / "adapter" / "adapter_model.safetensors")
    set_peft_model_state_dict(embedder.model, weights)
    state = torch.load(folder / "trainer_state.pt", weights_only=False, map_location="cpu")
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["python_rng"])
    log.warning("resumed from %s (step %d)", folder, state["step"])
    return int(state["step"])


def _best_dev(out: Path) -> float:
    """Dev Spearman of the saved `best` embedder (-inf when there is none)."""
    marker = out / "best" / "best.json"
    return json.loads(marker.read_text())["stsb_dev_spearman"] if marker.exists() else float("-inf")


def _save_best(out: Path, embedder: Embedder, step: int, score: float) -> None:
    """Save the embedder as out/best (atomically) with the step and dev score that made it the best."""
    tmp = out / ".tmp-best"
    shutil.rmtree(tmp, ignore_errors=True)
    embedder.save(tmp)
    (tmp / "best.json").write_text(json.dumps({"step": step, "stsb_dev_spearman": score}))
    shutil.rmtree(out / "best", ignore_errors=True)
    tmp.rename(out / "best")


def dev_spearman(embedder: Embedder, rows: list[tuple[str, str, float]]) -> float:
    """STS-B dev Spearman x100, measured exactly as at evaluation (dropout off while it runs)."""
    from embedder.evaluate.sts import sts_spearman

    embedder.model.eval()
    try:
        return sts_spearman(embedder, rows, task="sts")
    finally:
        embedder.model.train()


def load_dev_rows(data_root: Path, limit: int) -> list[tuple[str, str, float]]:
    """The first `limit` STS-B English dev pairs (never used for training)."""
    from embedder.evaluate.sts import load_sts_tsv

    return load_sts_tsv(data_root / "sts" / "stsb_multi_mt" / "en" / "dev.tsv", limit=limit or None)


def train(cfg: TrainConfig, quiet: bool = False) -> Path:
    """Run (or resume) training; return the folder of the final embedder (config + adapter).

    `cfg.device` picks where the model and every batch live ("auto": CUDA when available). With `dtype: auto`
    the backbone runs in bf16 on a GPU (LoRA weights and AdamW state stay fp32); configs/gpu.yaml asks for
    float32, which is what the measured H100 run used (see docs/BENCHMARKS.md).
    """
    from transformers import get_cosine_schedule_with_warmup

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    data_root = Path(cfg.data)
    rng = random.Random(cfg.seed)
    sources = {s.name: load_source(s, data_root, rng) for s in cfg.sources}
    sampler = MixtureSampler(sources, {s.name: s.weight for s in cfg.sources}, cfg.batch_size, cfg.seed)
    dev_rows = load_dev_rows(data_root, cfg.eval_pairs) if cfg.eval_every else []

    embedder = build_trainable(cfg)
    device = next(embedder.model.parameters()).device
    log.warning("training on %s (%s)", device, next(embedder.model.parameters()).dtype)
    embedder.model.train()
    params = [p for p in embedder.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.steps)
    start = _resume(out, embedder, optimizer, scheduler)

    log_file = (out / "log.jsonl").open("a")
    progress = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=quiet, desc="train")
    for step in progress:
        started = time.perf_counter()
        loss = batch_loss(embedder, sampler.batch(step), cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        seconds = time.perf_counter() - started
        row = {
            "step": step + 1,
            "loss": round(loss.item(), 5),
            "lr": scheduler.get_last_lr()[0],
            "examples_per_s": round(cfg.batch_size / seconds, 2),
            "seconds": round(seconds, 2),
        }
        if device.type == "cuda":
            row["gpu_mem_gb"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        done = step + 1
        if dev_rows and (done % cfg.eval_every == 0 or done == cfg.steps):
            row["stsb_dev_spearman"] = round(dev_spearman(embedder, dev_rows), 2)
            if cfg.keep_best and row["stsb_dev_spearman"] > _best_dev(out):
                _save_best(out, embedder, done, row["stsb_dev_spearman"])
        log_file.write(json.dumps(row) + "\n")
        log_file.flush()
        progress.set_postfix(loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.1e}", ex_s=row["examples_per_s"])
        if done % cfg.save_every == 0 or done == cfg.steps:
            _save_checkpoint(out, embedder, optimizer, scheduler, done)
    log_file.close()

    final = out / "final"
    shutil.rmtree(final, ignore_errors=True)
    embedder.save(final)
    return final
