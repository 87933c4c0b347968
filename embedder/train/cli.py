"""`babelsearch train`: contrastive LoRA fine-tuning from a YAML config."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def train_command(
    config: Path = typer.Option(Path("configs/default.yaml"), help="YAML training config (see configs/)."),
    data: str = typer.Option(None, help="Root of the shared data (folder with training/ and sts/)."),
    out: str = typer.Option(None, help="Run folder: checkpoints, log.jsonl and final/ go here."),
    steps: int = typer.Option(None, help="Total optimizer steps (overrides the config)."),
    batch_size: int = typer.Option(None, help="Examples per step (overrides the config)."),
    backbone: str = typer.Option(None, help="Backbone name, e.g. gemma-3-270m or tiny (overrides the config)."),
    learning_rate: float = typer.Option(None, help="Peak learning rate (overrides the config)."),
    max_tokens: int = typer.Option(None, help="Longest training input in tokens (overrides the config)."),
    eval_every: int = typer.Option(None, help="Steps between STS-B dev evaluations; 0 turns them off."),
    device: str = typer.Option(None, help="Torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."),
    temperature: float = typer.Option(None, help="InfoNCE temperature (overrides the config)."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Fine-tune a backbone with LoRA and InfoNCE; re-running the same command resumes from the last checkpoint."""
    from embedder.train.config import TrainConfig
    from embedder.train.trainer import train

    logging.basicConfig(level=logging.WARNING)
    cfg = TrainConfig.from_yaml(
        config, data=data, out=out, steps=steps, batch_size=batch_size, backbone=backbone,
        learning_rate=learning_rate, eval_every=eval_every, max_tokens=max_tokens,
        device=device, temperature=temperature,
    )
    final = train(cfg, quiet=quiet)
    typer.echo(f"final embedder written to {final} (load it with load_embedder('{final}'))")


def register(app: typer.Typer) -> None:
    """Add `train` to the `babelsearch` app."""
    app.command("train")(train_command)
