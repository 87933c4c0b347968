"""Embedder subcommands: `encode` here; train, eval and synth come from their sub-packages."""

from __future__ import annotations

import importlib
import json
import time
from pathlib import Path

import typer

DEMO_SENTENCES = [
    "Where is the railway station?",
    "Wo ist der Bahnhof?",
    "¿Dónde está la estación de tren?",
    "The cat is sleeping on the sofa.",
    "Die Katze schläft auf dem Sofa.",
    "猫がソファーで寝ている。",
]

_SUBCOMMAND_MODULES = ["embedder.train.cli", "embedder.evaluate.cli", "embedder.synth.cli"]


def encode(
    texts: list[str] = typer.Argument(None, help="Texts to embed (default: a multilingual demo set)."),
    model: str = typer.Option("default", help="'default', a backbone name, or an embedder folder."),
    task: str = typer.Option("sts", help="Task short name or instruction for the query side."),
    as_json: bool = typer.Option(False, "--json", help="Print vectors as JSON instead of a similarity matrix."),
) -> None:
    """Embed texts as queries and print their cosine similarity matrix (or the vectors as JSON)."""
    from embedder import load_embedder

    texts = texts or DEMO_SENTENCES
    started = time.perf_counter()
    embedder = load_embedder(model)
    loaded = time.perf_counter()
    vectors = embedder.encode_queries(texts, task=task)
    done = time.perf_counter()
    if as_json:
        typer.echo(json.dumps({"model": embedder.contract, "vectors": vectors.tolist()}))
        return
    similarity = vectors @ vectors.T
    typer.echo(f"model {embedder.name}  dim {embedder.dim}  load {loaded - started:.1f}s  encode {done - loaded:.2f}s")
    for i, text in enumerate(texts):
        row = " ".join(f"{s:5.2f}" for s in similarity[i])
        typer.echo(f"{row}  {text[:60]}")


def prepare_models(
    backbones: list[str] = typer.Argument(None, help="Backbones to prepare (default: gemma-3-270m and tiny)."),
) -> None:
    """Build the offline model cache (dequantised Gemma, tiny test backbone); quick when already done."""
    from embedder.backbones import backbone_path

    for name in backbones or ["gemma-3-270m", "tiny"]:
        started = time.perf_counter()
        path = backbone_path(name)
        typer.echo(f"{name}: {path} ({time.perf_counter() - started:.1f}s)")


def export_model(
    out: Path = typer.Argument(..., help="Folder to write (a sentence-transformers model)."),
    model: str = typer.Option("default", help="'default', a backbone name, or an embedder folder."),
) -> None:
    """Save the embedder (adapter merged) as a sentence-transformers folder with one prompt per task."""
    from embedder import load_embedder
    from embedder.st_export import export_sentence_transformers

    folder = export_sentence_transformers(load_embedder(model, optimize_for_cpu=False), out)
    typer.echo(f"wrote {folder}: SentenceTransformer({str(folder)!r}).encode(texts, prompt_name='web_search')")


def register(app: typer.Typer) -> None:
    """Add the embedder's commands to the `babelsearch` app."""
    app.command()(encode)
    app.command("prepare-models")(prepare_models)
    app.command("export-model")(export_model)
    for module in _SUBCOMMAND_MODULES:
        try:
            importlib.import_module(module).register(app)
        except ModuleNotFoundError as exc:
            if not module.startswith(exc.name or "\0"):
                raise
