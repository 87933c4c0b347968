"""`babelsearch synth`: grow E5-style training data with an LLM (local or any OpenAI-compatible server)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

FAMILY_HELP = "short-long, long-short, short-short, long-long, sts, bitext or cross-lingual."


def synth_command(
    backend: str = typer.Option("local", help="'local' (transformers on this machine) or 'openai' (HTTP)."),
    family: str = typer.Option(..., help=f"Kind of examples: {FAMILY_HELP}"),
    languages: str = typer.Option("en", help="Comma-separated ISO 639-1 codes, e.g. en,de (pairs for bitext)."),
    tasks: int = typer.Option(2, help="Task definitions to brainstorm (topics, for sts and bitext)."),
    per_task: int = typer.Option(2, help="Examples to keep per task."),
    out: Path = typer.Option(..., help="Output JSONL; out.tasks and out.rejects are written beside it."),
    domain: str = typer.Option(None, help="Domain hint for the brainstorm, e.g. 'railway customer service'."),
    base_url: str = typer.Option("http://127.0.0.1:8000/v1", help="OpenAI-compatible API root (openai backend)."),
    model: str = typer.Option(
        None, help="Model name on the server (openai), or a backbone name / HF folder (local; smollm2-135m)."
    ),
    api_key_env: str = typer.Option("OPENAI_API_KEY", help="Environment variable holding the API key, if any."),
    concurrency: int = typer.Option(4, help="Requests in flight at once (openai backend; local runs one)."),
    seed: int = typer.Option(0, help="Seed for attributes and sampling; re-runs with the same seed resume."),
    max_attempts: int = typer.Option(3, help="Generation attempts allowed per wanted example."),
    temperature: float = typer.Option(0.7, help="Sampling temperature."),
    max_tokens: int = typer.Option(
        None, help="Most new tokens per answer (default per family: 256 for sts/bitext/short-short, up to 1536)."
    ),
    no_language_check: bool = typer.Option(False, "--no-language-check", help="Skip the lingua language check."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Brainstorm tasks, then write (query, positive, hard negative) examples per task, E5-style.

    Each answer is checked (JSON, keys, non-empty, positive != negative, language); near duplicates go.

    Drops are counted by reason and kept in OUT.rejects; re-running the same command resumes.

    Train on OUT with a `kind: synthetic` source in the training config.
    """
    from embedder.synth.backends import LocalBackend, OpenAIBackend
    from embedder.synth.generate import SynthConfig, synthesize

    logging.basicConfig(level=logging.WARNING)
    config = SynthConfig(
        family=family,
        languages=languages.split(","),
        out=out,
        tasks=tasks,
        per_task=per_task,
        domain=domain,
        seed=seed,
        max_attempts=max_attempts,
        temperature=temperature,
        max_tokens=max_tokens,
        check_language=not no_language_check,
        quiet=quiet,
    )
    if backend == "openai":
        if not model:
            raise typer.BadParameter("the openai backend needs --model (the model name on the server)")
        chat = OpenAIBackend(base_url, model, os.environ.get(api_key_env), concurrency=concurrency)
    elif backend == "local":
        chat = LocalBackend(model or "smollm2-135m")
    else:
        raise typer.BadParameter(f"unknown backend {backend!r}: use local or openai")
    summary = synthesize(config, chat)
    for line in summary.lines():
        typer.echo(line)
    typer.echo(f"rows in {out}; dropped answers in {out}.rejects")


def register(app: typer.Typer) -> None:
    """Add `synth` to the `babelsearch` app."""
    app.command("synth")(synth_command)
