"""Training configuration: a dataclass read from YAML, with command-line overrides."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml


@dataclass
class SourceConfig:
    """One training source of the mixture: files under the data root, its task and its sampling weight."""

    name: str
    files: list[str]
    kind: str  # "triplets" (anchor/positive/negative), "parallel" (anchor/positive), "synthetic" (E5 format)
    weight: float = 1.0
    task: str | None = None  # task short name or instruction; synthetic examples carry their own
    symmetric_task: str | None = None  # if set, half the examples use this task with the query prefix on both sides
    limit: int | None = None


@dataclass
class LoraSettings:
    """peft LoRA hyperparameters."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )


@dataclass
class TrainConfig:
    """Everything one training run needs; saved next to its checkpoints."""

    backbone: str = "gemma-3-270m"
    pooling: str = "last_token"
    max_tokens: int = 128
    document_instruction: str | None = None  # None: the embedder's default document instruction
    sources: list[SourceConfig] = field(default_factory=list)
    lora: LoraSettings = field(default_factory=LoraSettings)
    init_adapter: str | None = None  # embedder or adapter folder whose LoRA weights start training (fine-tune further)
    temperature: float = 0.05
    symmetric_loss: bool = False
    batch_size: int = 24
    steps: int = 400
    learning_rate: float = 2e-4
    warmup_steps: int = 20
    weight_decay: float = 0.0
    gradient_checkpointing: bool = False
    dtype: str = "auto"  # bf16 where the CPU/GPU has fast bf16, else fp32
    device: str = "auto"  # "auto": cuda when available, else cpu; or any torch device string ("cuda:1")
    seed: int = 42
    eval_every: int = 100
    eval_pairs: int = 300  # first N STS-B en dev pairs (0 or more than the file: all 1,500)
    keep_best: bool = False  # also save the embedder with the best dev Spearman so far as out/best
    save_every: int = 25
    data: str = "../shared/data"
    out: str = "runs/default"

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> TrainConfig:
        """Read a YAML config; keyword overrides (non-None) win over the file."""
        raw = yaml.safe_load(Path(path).read_text()) or {}
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown keys in {path}: {sorted(unknown)}; known keys: {sorted(known)}")
        raw["sources"] = [SourceConfig(**s) for s in raw.get("sources", [])]
        raw["lora"] = LoraSettings(**raw.get("lora", {}))
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**raw)

    def to_dict(self) -> dict:
        """Plain dict (for saving and logging)."""
        return asdict(self)
